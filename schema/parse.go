package schema

import (
	"bytes"
	"fmt"
	"net/netip"
	"unicode/utf8"
	"unsafe"
)

// Reason is a bounded code that says why a record was rejected. Reasons are
// metric labels and dead-letter fields; details go elsewhere.
type Reason string

// Rejection reasons.
const (
	ReasonFieldCount  Reason = "field_count"  // wrong number of values for the format
	ReasonEmptyField  Reason = "empty_field"  // two spaces in a row, or a leading/trailing space
	ReasonBadInt      Reason = "bad_int"      // not a base-10 integer
	ReasonOutOfRange  Reason = "out_of_range" // a port, protocol or number outside its domain
	ReasonBadAddr     Reason = "bad_addr"     // not an IPv4 or IPv6 address
	ReasonBadAccount  Reason = "bad_account"  // not 12 digits nor "unknown"
	ReasonBadAction   Reason = "bad_action"   // not ACCEPT or REJECT
	ReasonBadStatus   Reason = "bad_log_status"
	ReasonBadRegion   Reason = "bad_region" // not a region name that is safe in a key
	ReasonBadUTF8     Reason = "bad_utf8"
	ReasonTooLong     Reason = "line_too_long"
	ReasonBadEnvelope Reason = "bad_envelope" // a message that is no known envelope
	ReasonBadHeader   Reason = "bad_header"   // a header line naming unknown fields
	ReasonNoTime      Reason = "no_time"      // no start, end or message time to place the record in an hour
	// ReasonTimeRange: the record's time is too far in the future or the
	// past of the processing time (see parse.Config.MaxAhead, MaxBehind).
	ReasonTimeRange Reason = "time_out_of_range"
	// ReasonDeadLetterLimit marks the summary dead letter of a message that
	// yielded more dead letters than are kept one by one: it stands for the
	// rest (its record count) and carries the whole raw message.
	ReasonDeadLetterLimit Reason = "dead_letter_limit"
	ReasonBadID           Reason = "bad_id"    // an interface, VPC, subnet, instance or AZ id not of its documented shape
	ReasonBadEnum         Reason = "bad_enum"  // a value outside a documented set (type, flow-direction, ...)
	ReasonBadValue        Reason = "bad_value" // a control character, path fragment or oversized free-text value
)

// Reasons lists every reason, for metrics initialisation and docs.
var Reasons = []Reason{ReasonFieldCount, ReasonEmptyField, ReasonBadInt, ReasonOutOfRange,
	ReasonBadAddr, ReasonBadAccount, ReasonBadAction, ReasonBadStatus, ReasonBadRegion,
	ReasonBadUTF8, ReasonTooLong, ReasonBadEnvelope, ReasonBadHeader, ReasonNoTime, ReasonTimeRange,
	ReasonDeadLetterLimit, ReasonBadID, ReasonBadEnum, ReasonBadValue}

// ParseError explains why a line was rejected.
type ParseError struct {
	Reason Reason
	// Field is the offending field's token, or "" for whole-line errors.
	Field string
	// Detail is human readable.
	Detail string
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %s", e.Reason, e.Field, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

var space = []byte{' '}

// DefaultMaxLineBytes is the longest line Parse accepts by default.
const DefaultMaxLineBytes = 64 << 10

// Parser parses lines of one format. It keeps no per-line state, so one
// Parser may be shared by goroutines.
type Parser struct {
	format  *Format
	maxLine int
}

// NewParser returns a parser for f. maxLine <= 0 means DefaultMaxLineBytes.
func NewParser(f *Format, maxLine int) *Parser {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	return &Parser{format: f, maxLine: maxLine}
}

// Format returns the parser's format.
func (p *Parser) Format() *Format { return p.format }

// Parse parses one line (without its line terminator) into r, which it resets
// first. String values in r alias line. Parse does not allocate unless it
// returns an error.
func (p *Parser) Parse(line []byte, r *Record) error {
	r.Reset()
	if len(line) > p.maxLine {
		return &ParseError{Reason: ReasonTooLong, Detail: fmt.Sprintf("%d bytes, limit %d", len(line), p.maxLine)}
	}
	if !validUTF8(line) {
		return &ParseError{Reason: ReasonBadUTF8, Detail: "line is not valid UTF-8"}
	}
	fields := p.format.fields
	if got := bytes.Count(line, space) + 1; got != len(fields) || len(line) == 0 {
		if len(line) == 0 {
			got = 0
		}
		return &ParseError{Reason: ReasonFieldCount, Detail: fmt.Sprintf("%d fields, format has %d", got, len(fields))}
	}
	n := 0
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != ' ' {
			continue
		}
		if n >= len(fields) {
			return &ParseError{Reason: ReasonFieldCount, Detail: fmt.Sprintf("more than %d fields", len(fields))}
		}
		tok := line[start:i]
		if len(tok) == 0 {
			return &ParseError{Reason: ReasonEmptyField, Field: Fields[fields[n]].Token, Detail: fmt.Sprintf("empty value at position %d", n+1)}
		}
		if err := setField(r, fields[n], tok); err != nil {
			return err
		}
		n++
		start = i + 1
	}
	if n != len(fields) {
		return &ParseError{Reason: ReasonFieldCount, Detail: fmt.Sprintf("%d fields, format has %d", n, len(fields))}
	}
	return nil
}

func setField(r *Record, id FieldID, tok []byte) error {
	if len(tok) == 1 && tok[0] == '-' {
		return nil // null
	}
	fi := &Fields[id]
	if fi.Kind != KindString {
		v, ok := parseUint(tok)
		if !ok {
			return &ParseError{Reason: ReasonBadInt, Field: fi.Token, Detail: fmt.Sprintf("%q is not an integer", clip(tok))}
		}
		limit := uint64(1<<63 - 1)
		switch {
		case fi.check == checkPort:
			limit = 65535
		case fi.check == checkProtocol:
			limit = 255
		case fi.Kind == KindInt32:
			limit = 1<<31 - 1
		}
		if v > limit {
			return &ParseError{Reason: ReasonOutOfRange, Field: fi.Token, Detail: fmt.Sprintf("%d is above %d", v, limit)}
		}
		r.SetInt(id, int64(v))
		return nil
	}
	switch fi.check {
	case checkAddr:
		if !validAddr(tok) {
			return &ParseError{Reason: ReasonBadAddr, Field: fi.Token, Detail: fmt.Sprintf("%q is not an IPv4 or IPv6 address", clip(tok))}
		}
	case checkAccount:
		if !ValidAccount(tok) {
			return &ParseError{Reason: ReasonBadAccount, Field: fi.Token, Detail: fmt.Sprintf("%q is not a 12-digit account id", clip(tok))}
		}
	case checkAction:
		if string(tok) != "ACCEPT" && string(tok) != "REJECT" {
			return &ParseError{Reason: ReasonBadAction, Field: fi.Token, Detail: fmt.Sprintf("%q is not ACCEPT or REJECT", clip(tok))}
		}
	case checkStatus:
		if string(tok) != "OK" && string(tok) != "NODATA" && string(tok) != "SKIPDATA" {
			return &ParseError{Reason: ReasonBadStatus, Field: fi.Token, Detail: fmt.Sprintf("%q is not OK, NODATA or SKIPDATA", clip(tok))}
		}
	case checkRegion:
		if !ValidRegion(tok) {
			return &ParseError{Reason: ReasonBadRegion, Field: fi.Token, Detail: fmt.Sprintf("%q is not a region name", clip(tok))}
		}
	case checkNone:
	default:
		if !validShape(fi.check, tok) {
			return &ParseError{Reason: shapeReason(fi.check), Field: fi.Token, Detail: fmt.Sprintf("%q is not %s", clip(tok), shapeName(fi.check))}
		}
	}
	r.SetStr(id, tok)
	return nil
}

// parseUint parses a non-negative base-10 integer of at most 19 digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// ValidAccount reports whether b is a 12-digit account id or "unknown".
func ValidAccount(b []byte) bool {
	if string(b) == "unknown" {
		return true
	}
	if len(b) != 12 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidRegion reports whether b looks like an AWS region name
// (`us-east-1`, `us-gov-west-1`, `cn-north-1`): lowercase letters and digits
// in dash-separated words, starting with letters and ending with a number.
// Such a name is always safe inside an object key.
func ValidRegion(b []byte) bool {
	if len(b) < 4 || len(b) > 32 {
		return false
	}
	if b[0] < 'a' || b[0] > 'z' || b[len(b)-1] < '0' || b[len(b)-1] > '9' {
		return false
	}
	dashes := 0
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if b[i-1] == '-' {
				return false
			}
			dashes++
		default:
			return false
		}
	}
	return dashes >= 2
}

// validAddr checks an IPv4 dotted quad or an IPv6 address without
// allocating.
func validAddr(b []byte) bool {
	for _, c := range b {
		if c == ':' {
			// No zone: "fe80::1%eth0" is an address of one host's link,
			// and the zone is free text an attacker chooses.
			a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
			return err == nil && a.Is6() && a.Zone() == ""
		}
	}
	return validIPv4(b)
}

func validIPv4(b []byte) bool {
	parts, val, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || val > 255 {
				return false
			}
			parts++
			val, digits = 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) {
			return false // not a digit, or a leading zero
		}
		val = val*10 + int(c-'0')
		digits++
		if digits > 3 {
			return false
		}
	}
	return parts == 4
}

func validUTF8(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return utf8.Valid(b)
		}
	}
	return true
}

// clip shortens a value quoted in an error detail.
func clip(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
