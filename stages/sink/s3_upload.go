package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// crc64NVMETable is the reflected CRC-64/NVME polynomial, as S3 uses it.
var crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksum returns the base64 checksum of p that S3 expects in the
// x-amz-checksum-* header, and its raw bytes.
func checksum(alg string, p []byte) (b64 string, raw []byte) {
	if alg == ChecksumSHA256 {
		sum := sha256.Sum256(p)
		raw = sum[:]
	} else {
		raw = binary.BigEndian.AppendUint64(nil, crc64.Checksum(p, crc64NVMETable))
	}
	return base64.StdEncoding.EncodeToString(raw), raw
}

// compositeChecksum is S3's checksum of a multipart object whose checksum
// type is COMPOSITE: the checksum of the parts' raw checksums, then "-N".
func compositeChecksum(partSums [][]byte) string {
	h := sha256.New()
	for _, p := range partSums {
		h.Write(p)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partSums))
}

// checksumMatches compares a stored checksum with the expected one. The
// "-N" part count of composite checksums is optional on the stored side:
// some servers omit it.
func checksumMatches(got, want string) bool {
	gb, gn, gHas := strings.Cut(got, "-")
	wb, wn, _ := strings.Cut(want, "-")
	return gb == wb && (!gHas || gn == wn)
}

// putOnce uploads data under obj once (retrying each request as needed) and
// verifies the stored object. A *redoError means the whole upload must be
// repeated. full is the whole-object checksum, "" when a SHA256 multipart
// upload makes it unneeded.
func (s *S3) putOnce(ctx context.Context, obj string, data []byte, full string) error {
	var (
		versionID, want string
		err             error
	)
	if int64(len(data)) > s.cfg.MultipartThreshold {
		versionID, want, err = s.putMultipart(ctx, obj, data, full)
	} else {
		want = full
		versionID, err = s.putSingle(ctx, obj, data, full)
	}
	if err != nil {
		return err
	}
	return s.verify(ctx, obj, versionID, data, want)
}

// needFullChecksum reports whether Put must hash the whole object: always
// but for a SHA256 multipart upload, whose checksum is built from parts.
func (s *S3) needFullChecksum(size int) bool {
	return s.cfg.Checksum != ChecksumSHA256 || int64(size) <= s.cfg.MultipartThreshold
}

func (s *S3) payloadOptions() []func(*s3.Options) {
	if !s.unsignedPayload {
		return nil
	}
	return []func(*s3.Options){s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
}

func (s *S3) retainUntil() *time.Time {
	if s.cfg.ObjectLockMode == "" {
		return nil
	}
	t := time.Now().Add(time.Duration(s.cfg.ObjectLockDays) * 24 * time.Hour).UTC()
	return &t
}

func (s *S3) checksumAlgorithm() types.ChecksumAlgorithm {
	if s.cfg.Checksum == ChecksumSHA256 {
		return types.ChecksumAlgorithmSha256
	}
	return types.ChecksumAlgorithmCrc64nvme
}

func (s *S3) putSingle(ctx context.Context, obj string, data []byte, sum string) (versionID string, err error) {
	err = s.retry(ctx, "put", obj, func(ctx context.Context) error {
		in := &s3.PutObjectInput{
			Bucket:                    aws.String(s.cfg.Bucket),
			Key:                       aws.String(obj),
			Body:                      bytes.NewReader(data),
			ContentLength:             aws.Int64(int64(len(data))),
			ChecksumAlgorithm:         s.checksumAlgorithm(),
			ServerSideEncryption:      types.ServerSideEncryption(s.cfg.SSE),
			ObjectLockMode:            types.ObjectLockMode(s.cfg.ObjectLockMode),
			ObjectLockRetainUntilDate: s.retainUntil(),
		}
		if s.cfg.KMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.cfg.KMSKeyID)
		}
		if s.cfg.Checksum == ChecksumSHA256 {
			in.ChecksumSHA256 = aws.String(sum)
		} else {
			in.ChecksumCRC64NVME = aws.String(sum)
		}
		out, err := s.client.PutObject(ctx, in, s.payloadOptions()...)
		if err != nil {
			return err
		}
		versionID = aws.ToString(out.VersionId)
		return nil
	})
	return versionID, err
}

// partSize returns the configured part size, raised when the object would
// otherwise need more than S3's 10,000 parts.
func (s *S3) partSize(size int) int {
	ps := int(s.cfg.PartSize)
	if (size+ps-1)/ps > maxParts {
		const mib = 1 << 20
		ps = ((size+maxParts-1)/maxParts + mib - 1) / mib * mib
	}
	return ps
}

// putMultipart uploads data in parts, PartConcurrency at a time, each with
// its own checksum, and completes the upload. CRC64NVME uploads use the
// FULL_OBJECT checksum type, so S3 checks the whole object against full;
// SHA256 uploads are COMPOSITE. It returns the checksum the stored object
// must show. The upload is aborted unless it completed.
func (s *S3) putMultipart(ctx context.Context, obj string, data []byte, full string) (versionID, want string, err error) {
	alg := s.checksumAlgorithm()
	ctype := types.ChecksumTypeFullObject
	if alg == types.ChecksumAlgorithmSha256 {
		ctype = types.ChecksumTypeComposite
	}
	var uploadID string
	err = s.retry(ctx, "create_multipart", obj, func(ctx context.Context) error {
		in := &s3.CreateMultipartUploadInput{
			Bucket:                    aws.String(s.cfg.Bucket),
			Key:                       aws.String(obj),
			ChecksumAlgorithm:         alg,
			ChecksumType:              ctype,
			ServerSideEncryption:      types.ServerSideEncryption(s.cfg.SSE),
			ObjectLockMode:            types.ObjectLockMode(s.cfg.ObjectLockMode),
			ObjectLockRetainUntilDate: s.retainUntil(),
		}
		if s.cfg.KMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.cfg.KMSKeyID)
		}
		out, err := s.client.CreateMultipartUpload(ctx, in)
		if err != nil {
			return err
		}
		uploadID = aws.ToString(out.UploadId)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	completed := false
	defer func() {
		if !completed {
			s.abort(ctx, obj, uploadID)
		}
	}()

	ps := s.partSize(len(data))
	n := (len(data) + ps - 1) / ps
	parts := make([]types.CompletedPart, n)
	partSums := make([][]byte, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.PartConcurrency)
	for i := range n {
		body := data[i*ps : min((i+1)*ps, len(data))]
		g.Go(func() error {
			sum, raw := checksum(s.cfg.Checksum, body)
			part := types.CompletedPart{PartNumber: aws.Int32(int32(i + 1))}
			if alg == types.ChecksumAlgorithmSha256 {
				part.ChecksumSHA256 = aws.String(sum)
			} else {
				part.ChecksumCRC64NVME = aws.String(sum)
			}
			err := s.retry(gctx, "upload_part", obj, func(ctx context.Context) error {
				out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
					Bucket:            aws.String(s.cfg.Bucket),
					Key:               aws.String(obj),
					UploadId:          aws.String(uploadID),
					PartNumber:        part.PartNumber,
					Body:              bytes.NewReader(body),
					ContentLength:     aws.Int64(int64(len(body))),
					ChecksumAlgorithm: alg,
					ChecksumSHA256:    part.ChecksumSHA256,
					ChecksumCRC64NVME: part.ChecksumCRC64NVME,
				}, s.payloadOptions()...)
				if err != nil {
					if errorCode(err) == "NoSuchUpload" {
						return stopRetry(&redoError{reason: reasonUploadGone, err: err})
					}
					return err
				}
				part.ETag = out.ETag
				return nil
			})
			parts[i], partSums[i] = part, raw
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", "", err
	}

	want = full
	if ctype == types.ChecksumTypeComposite {
		want = compositeChecksum(partSums)
	}
	err = s.retry(ctx, "complete_multipart", obj, func(ctx context.Context) error {
		in := &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.cfg.Bucket),
			Key:             aws.String(obj),
			UploadId:        aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			ChecksumType:    ctype,
			MpuObjectSize:   aws.Int64(int64(len(data))),
		}
		if ctype == types.ChecksumTypeFullObject {
			in.ChecksumCRC64NVME = aws.String(full)
		}
		out, err := s.client.CompleteMultipartUpload(ctx, in)
		if err != nil {
			if errorCode(err) == "NoSuchUpload" {
				// An earlier attempt may have completed the upload and lost
				// the response; verification decides.
				return nil
			}
			return err
		}
		versionID = aws.ToString(out.VersionId)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	completed = true
	return versionID, want, nil
}

// abort cancels a multipart upload, even when ctx has ended, so its parts
// stop costing storage. A failure is only logged: a lifecycle rule with
// AbortIncompleteMultipartUpload cleans up what is left.
func (s *S3) abort(ctx context.Context, obj, uploadID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.cfg.Bucket),
		Key:      aws.String(obj),
		UploadId: aws.String(uploadID),
	})
	if err != nil && errorCode(err) != "NoSuchUpload" {
		s.logger.Warn("s3 abort multipart upload failed; its parts remain until a lifecycle rule removes them",
			"key", obj, "upload_id", uploadID, "err", err)
	}
}

// verify checks that the stored object has len(data) bytes and the checksum
// want, by HeadObject with checksum mode enabled. If the server reports no
// checksum of our algorithm it reads the object back and compares bytes.
// A mismatch, or a missing object, returns a *redoError.
func (s *S3) verify(ctx context.Context, obj, versionID string, data []byte, want string) error {
	var (
		size int64
		got  string
	)
	err := s.retry(ctx, "verify", obj, func(ctx context.Context) error {
		in := &s3.HeadObjectInput{
			Bucket:       aws.String(s.cfg.Bucket),
			Key:          aws.String(obj),
			ChecksumMode: types.ChecksumModeEnabled,
		}
		if versionID != "" {
			in.VersionId = aws.String(versionID)
		}
		out, err := s.client.HeadObject(ctx, in)
		if err != nil {
			if isNotFound(err) {
				return stopRetry(&redoError{reason: reasonVerify, err: errors.New("object missing right after upload")})
			}
			return err
		}
		size = aws.ToInt64(out.ContentLength)
		if s.cfg.Checksum == ChecksumSHA256 {
			got = aws.ToString(out.ChecksumSHA256)
		} else {
			got = aws.ToString(out.ChecksumCRC64NVME)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if size != int64(len(data)) {
		return &redoError{reason: reasonVerify, err: fmt.Errorf("stored object has %d bytes, uploaded %d", size, len(data))}
	}
	if got == "" {
		return s.verifyByReading(ctx, obj, versionID, data)
	}
	if !checksumMatches(got, want) {
		return &redoError{reason: reasonVerify, err: fmt.Errorf("stored %s checksum %s, computed %s", s.cfg.Checksum, got, want)}
	}
	return nil
}

// verifyByReading streams the stored object and compares it with data.
func (s *S3) verifyByReading(ctx context.Context, obj, versionID string, data []byte) error {
	return s.retry(ctx, "verify_read", obj, func(ctx context.Context) error {
		in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(obj)}
		if versionID != "" {
			in.VersionId = aws.String(versionID)
		}
		out, err := s.client.GetObject(ctx, in)
		if err != nil {
			if isNotFound(err) {
				return stopRetry(&redoError{reason: reasonVerify, err: errors.New("object missing right after upload")})
			}
			return err
		}
		defer out.Body.Close()
		same, err := sameContent(out.Body, data)
		if err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		if !same {
			return stopRetry(&redoError{reason: reasonVerify, err: errors.New("stored bytes differ from the uploaded ones")})
		}
		return nil
	})
}

// sameContent reports whether r yields exactly data.
func sameContent(r io.Reader, data []byte) (bool, error) {
	buf := make([]byte, 256<<10)
	for {
		n, err := io.ReadFull(r, buf)
		if n > len(data) || !bytes.Equal(buf[:n], data[:n]) {
			return false, nil
		}
		data = data[n:]
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return len(data) == 0, nil
		case err != nil:
			return false, err
		}
	}
}
