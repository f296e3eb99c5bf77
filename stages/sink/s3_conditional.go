package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func isPreconditionFailed(err error) bool {
	return errorCode(err) == "PreconditionFailed" || httpStatus(err) == 412
}

// putIf is a PutObject with a precondition header. A failed precondition
// after a retried attempt may be that attempt's own success whose reply was
// lost; the stored bytes tell.
func (s *S3) putIf(ctx context.Context, op, key string, data []byte, ifNoneMatch, ifMatch string, failed error) error {
	if err := CheckKey(key); err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	obj := Join(s.cfg.Prefix, key)
	sum, _ := checksum(s.cfg.Checksum, data)
	attempts := 0
	err := s.retry(ctx, op, obj, func(ctx context.Context) error {
		attempts++
		in := &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(obj),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			ChecksumAlgorithm:         s.checksumAlgorithm(),
			ServerSideEncryption:      types.ServerSideEncryption(s.cfg.SSE),
			ObjectLockMode:            types.ObjectLockMode(s.cfg.ObjectLockMode),
			ObjectLockRetainUntilDate: s.retainUntil(),
		}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		if s.cfg.KMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.cfg.KMSKeyID)
		}
		if s.cfg.Checksum == ChecksumSHA256 {
			in.ChecksumSHA256 = aws.String(sum)
		} else {
			in.ChecksumCRC64NVME = aws.String(sum)
		}
		_, err := s.client.PutObject(ctx, in, s.payloadOptions()...)
		if err != nil && isPreconditionFailed(err) {
			return stopRetry(fmt.Errorf("s3://%s/%s: %w", s.cfg.Bucket, obj, failed))
		}
		return err
	})
	if errors.Is(err, failed) && attempts > 1 {
		if cur, gerr := s.Get(ctx, key); gerr == nil && bytes.Equal(cur, data) {
			return nil
		}
	}
	if err == nil {
		s.puts.Add(1)
		s.bytes.Add(int64(len(data)))
		s.metrics.puts.Inc()
		s.metrics.putBytes.Add(float64(len(data)))
	}
	return err
}

// Create implements Store with `If-None-Match: *`.
func (s *S3) Create(ctx context.Context, key string, data []byte) error {
	return s.putIf(ctx, "create", key, data, "*", "", ErrExists)
}

// ReplaceIf implements Store with `If-Match: <ETag>`.
func (s *S3) ReplaceIf(ctx context.Context, key string, data []byte, tag string) error {
	return s.putIf(ctx, "replace", key, data, "", tag, ErrChanged)
}

// GetTag implements Store; the tag is the object's ETag.
func (s *S3) GetTag(ctx context.Context, key string) ([]byte, string, error) {
	if err := CheckKey(key); err != nil {
		return nil, "", err
	}
	obj := Join(s.cfg.Prefix, key)
	var (
		data []byte
		tag  string
	)
	err := s.retry(ctx, "get", obj, func(ctx context.Context) error {
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(obj)})
		if err != nil {
			if isNotFound(err) {
				return stopRetry(fmt.Errorf("s3://%s/%s: %w", s.cfg.Bucket, obj, ErrNotFound))
			}
			return err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		data, tag = b, aws.ToString(out.ETag)
		return nil
	})
	return data, tag, err
}

// PutFile implements Store. The file is mapped into memory read-only and
// uploaded with Put (multipart above the threshold, verified): its pages
// come from the page cache, not the heap.
func (s *S3) PutFile(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size() == 0 {
		return s.Put(ctx, key, nil)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map %s: %w", path, err)
	}
	defer func() { _ = syscall.Munmap(data) }()
	return s.Put(ctx, key, data)
}
