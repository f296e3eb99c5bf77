package archive

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"flowlake/schema"
)

// Layout is how a folder is named.
type Layout string

// Layouts AWS delivers.
const (
	LayoutDefault Layout = "default"
	LayoutHive    Layout = "hive"
)

// Folder is one day of one account and region.
type Folder struct {
	Layout  Layout
	Account string
	Region  string
	Day     time.Time // midnight UTC
	// Prefix is the folder's key prefix, ending in "/".
	Prefix string
}

// Object is one flow log file.
type Object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	ETag string `json:"etag,omitempty"`
}

// lister lists a bucket by folder names.
type lister struct {
	client *s3.Client
	bucket string
	retry  func(ctx context.Context, what string, fn func() error) error
}

// children returns the sub-folder names (without slash) directly under
// prefix (which ends in "/").
func (l *lister) children(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	var token *string
	for {
		var page *s3.ListObjectsV2Output
		err := l.retry(ctx, "list "+prefix, func() error {
			var err error
			page, err = l.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &l.bucket, Prefix: &prefix, Delimiter: aws.String("/"), ContinuationToken: token})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if name != "" {
				out = append(out, name)
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		token = page.NextContinuationToken
	}
}

// objects lists every object under prefix, sub-folders included, in key
// order.
func (l *lister) objects(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	var token *string
	for {
		var page *s3.ListObjectsV2Output
		err := l.retry(ctx, "list "+prefix, func() error {
			var err error
			page, err = l.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &l.bucket, Prefix: &prefix, ContinuationToken: token})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		token = page.NextContinuationToken
	}
}

// Range is a half-open range of days [Since, Until); zero values are open.
type Range struct {
	Since, Until time.Time
}

// overlaps reports whether [from, to) meets the range.
func (r Range) overlaps(from, to time.Time) bool {
	return (r.Until.IsZero() || from.Before(r.Until)) && (r.Since.IsZero() || to.After(r.Since))
}

// Filter selects folders.
type Filter struct {
	Range    Range
	Accounts []string // empty: all
	Regions  []string // empty: all
}

func keep(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// discover walks root (the folder holding AWSLogs/, ending in "/" or
// empty) level by level and returns the day folders f selects.
func (l *lister) discover(ctx context.Context, root string, f Filter) ([]Folder, error) {
	base := root + "AWSLogs/"
	accounts, err := l.children(ctx, base)
	if err != nil {
		return nil, err
	}
	var out []Folder
	for _, a := range accounts {
		layout, account := LayoutDefault, a
		if v, ok := strings.CutPrefix(a, "aws-account-id="); ok {
			layout, account = LayoutHive, v
		}
		if !schema.ValidAccount([]byte(account)) || account == "unknown" || !keep(f.Accounts, account) {
			continue
		}
		var regionsDir string
		if layout == LayoutHive {
			regionsDir = base + a + "/aws-service=vpcflowlogs/"
		} else {
			regionsDir = base + a + "/vpcflowlogs/"
		}
		regions, err := l.children(ctx, regionsDir)
		if err != nil {
			return nil, err
		}
		for _, r := range regions {
			region := r
			if layout == LayoutHive {
				var ok bool
				if region, ok = strings.CutPrefix(r, "aws-region="); !ok {
					continue
				}
			}
			if !schema.ValidRegion([]byte(region)) || !keep(f.Regions, region) {
				continue
			}
			days, err := l.days(ctx, regionsDir+r+"/", layout, f.Range)
			if err != nil {
				return nil, err
			}
			for _, d := range days {
				out = append(out, Folder{Layout: layout, Account: account, Region: region, Day: d.day, Prefix: d.prefix})
			}
		}
	}
	return out, nil
}

type day struct {
	day    time.Time
	prefix string
}

// days lists the year, month and day folders under dir inside r.
func (l *lister) days(ctx context.Context, dir string, layout Layout, r Range) ([]day, error) {
	name := func(level, v string) (int, bool) {
		if layout == LayoutHive {
			var ok bool
			if v, ok = strings.CutPrefix(v, level+"="); !ok {
				return 0, false
			}
		}
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0
	}
	var out []day
	years, err := l.children(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, ys := range years {
		y, ok := name("year", ys)
		if !ok || y < 1970 || y > 9999 || !r.overlaps(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)) {
			continue
		}
		months, err := l.children(ctx, dir+ys+"/")
		if err != nil {
			return nil, err
		}
		for _, ms := range months {
			m, ok := name("month", ms)
			if !ok || m < 1 || m > 12 || !r.overlaps(time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC), time.Date(y, time.Month(m)+1, 1, 0, 0, 0, 0, time.UTC)) {
				continue
			}
			ds, err := l.children(ctx, dir+ys+"/"+ms+"/")
			if err != nil {
				return nil, err
			}
			for _, dd := range ds {
				d, ok := name("day", dd)
				t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
				if !ok || d < 1 || d > 31 || t.Month() != time.Month(m) || !r.overlaps(t, t.AddDate(0, 0, 1)) {
					continue
				}
				out = append(out, day{day: t, prefix: dir + ys + "/" + ms + "/" + dd + "/"})
			}
		}
	}
	return out, nil
}

// flowLogObject reports whether key names a flow log text file.
func flowLogObject(key string) bool {
	return strings.HasSuffix(key, ".log.gz") || strings.HasSuffix(key, ".log") || strings.HasSuffix(key, ".txt.gz")
}

// objectTime is the delivery time in an AWS file name
// (`..._20240501T1305Z_hash.log.gz`), else the folder's day.
func objectTime(key string, f Folder) time.Time {
	name := key[strings.LastIndexByte(key, '/')+1:]
	for _, part := range strings.Split(name, "_") {
		if len(part) == 14 && part[8] == 'T' && part[13] == 'Z' {
			if t, err := time.Parse("20060102T1504Z", part); err == nil {
				return t
			}
		}
	}
	return f.Day
}

// String names the folder for logs.
func (f Folder) String() string {
	return fmt.Sprintf("%s/%s/%s", f.Account, f.Region, f.Day.Format("2006-01-02"))
}
