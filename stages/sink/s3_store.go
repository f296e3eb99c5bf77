package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	full := Join(s.cfg.Prefix, prefix)
	if prefix == "" && s.cfg.Prefix != "" {
		full = s.cfg.Prefix + "/"
	}
	var out []ObjectInfo
	var token *string
	for {
		var page *s3.ListObjectsV2Output
		err := s.retry(ctx, "list", full, func(ctx context.Context) error {
			var err error
			page, err = s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(full), ContinuationToken: token,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if s.cfg.Prefix != "" {
				k = strings.TrimPrefix(k, s.cfg.Prefix+"/")
			}
			out = append(out, ObjectInfo{Key: k, Size: aws.ToInt64(o.Size)})
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			break
		}
		token = page.NextContinuationToken
	}
	return out, nil
}

// s3Object reads an object with ranged GETs.
type s3Object struct {
	s    *S3
	obj  string
	size int64
	ctx  context.Context
}

func (o *s3Object) Size() int64  { return o.size }
func (o *s3Object) Close() error { return nil }

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	n := 0
	err := o.s.retry(o.ctx, "get", o.obj, func(ctx context.Context) error {
		out, err := o.s.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(o.s.cfg.Bucket), Key: aws.String(o.obj),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+want-1)),
		})
		if err != nil {
			if isNotFound(err) {
				return stopRetry(fmt.Errorf("s3://%s/%s: %w", o.s.cfg.Bucket, o.obj, ErrNotFound))
			}
			return err
		}
		defer out.Body.Close()
		n, err = io.ReadFull(out.Body, p[:want])
		return err
	})
	if err != nil {
		return n, err
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj := Join(s.cfg.Prefix, key)
	var size int64
	err := s.retry(ctx, "head", obj, func(ctx context.Context) error {
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(obj)})
		if err != nil {
			if isNotFound(err) {
				return stopRetry(fmt.Errorf("s3://%s/%s: %w", s.cfg.Bucket, obj, ErrNotFound))
			}
			return err
		}
		size = aws.ToInt64(out.ContentLength)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &s3Object{s: s, obj: obj, size: size, ctx: ctx}, nil
}

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
