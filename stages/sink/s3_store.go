package sink

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// List returns every object whose key starts with prefix, in key order
// (ListObjectsV2 pages; transient failures are retried until ctx ends).
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

// Open opens an object for ranged reads (a HEAD for its size, then a GET
// per ReadAt); a missing object returns an error wrapping ErrNotFound.
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
