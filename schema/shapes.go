package schema

// Value shapes of string fields, from AWS's field descriptions
// (DescribeNetworkInterfaces ids, the documented enums). A value outside
// its shape is a dead letter with a reason, so no control character, path
// fragment or oversized blob ever lands in a column.

// maxTextBytes bounds a free-text value (ARNs, container ids, tags): AWS
// ARNs stay under 2048 bytes, the other values far below.
const maxTextBytes = 2048

// Shapes a string field's value must have.
const (
	checkENI        check = iota + 64 // eni-<hex>
	checkVPC                          // vpc-<hex>
	checkSubnet                       // subnet-<hex>
	checkInstance                     // i-<hex>
	checkAZ                           // use1-az1, usw2-lax1-az1
	checkType                         // IPv4, IPv6, EFA
	checkDirection                    // ingress, egress
	checkSublocType                   // wavelength, outpost, localzone
	checkService                      // AMAZON, S3, ROUTE53_HEALTHCHECKS, ...
	checkText                         // printable text, no path fragment
)

// shapeReason is the rejection reason of a shape check.
func shapeReason(c check) Reason {
	switch c {
	case checkENI, checkVPC, checkSubnet, checkInstance, checkAZ:
		return ReasonBadID
	case checkType, checkDirection, checkSublocType, checkService:
		return ReasonBadEnum
	}
	return ReasonBadValue
}

// shapeName describes a shape in a dead letter's detail.
func shapeName(c check) string {
	switch c {
	case checkENI:
		return "an interface id (eni-<hex>)"
	case checkVPC:
		return "a VPC id (vpc-<hex>)"
	case checkSubnet:
		return "a subnet id (subnet-<hex>)"
	case checkInstance:
		return "an instance id (i-<hex>)"
	case checkAZ:
		return "an AZ id (use1-az1)"
	case checkType:
		return "IPv4, IPv6 or EFA"
	case checkDirection:
		return "ingress or egress"
	case checkSublocType:
		return "wavelength, outpost or localzone"
	case checkService:
		return "an AWS service code (upper case, digits, _)"
	}
	return "printable text without control characters or path fragments, at most 2048 bytes"
}

// validShape reports whether tok has shape c.
func validShape(c check, tok []byte) bool {
	switch c {
	case checkENI:
		return hexID(tok, "eni-")
	case checkVPC:
		return hexID(tok, "vpc-")
	case checkSubnet:
		return hexID(tok, "subnet-")
	case checkInstance:
		return hexID(tok, "i-")
	case checkAZ:
		return validAZ(tok)
	case checkType:
		s := string(tok)
		return s == "IPv4" || s == "IPv6" || s == "EFA"
	case checkDirection:
		s := string(tok)
		return s == "ingress" || s == "egress"
	case checkSublocType:
		s := string(tok)
		return s == "wavelength" || s == "outpost" || s == "localzone"
	case checkService:
		return validService(tok)
	case checkText:
		return validText(tok)
	}
	return true
}

// hexID checks prefix followed by 1 to 17 lowercase hex digits (AWS ids
// have 8 or 17).
func hexID(b []byte, prefix string) bool {
	if len(b) <= len(prefix) || len(b) > len(prefix)+17 || string(b[:len(prefix)]) != prefix {
		return false
	}
	for _, c := range b[len(prefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validAZ checks an AZ id: lowercase words of letters and digits joined by
// dashes, the last one az<digits> (use1-az1, usw2-lax1-az1).
func validAZ(b []byte) bool {
	if len(b) < 5 || len(b) > 32 {
		return false
	}
	last := -1
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || b[i-1] == '-' {
				return false
			}
			last = i
		default:
			return false
		}
	}
	if last < 0 || len(b)-last < 4 || b[last+1] != 'a' || b[last+2] != 'z' {
		return false
	}
	for _, c := range b[last+3:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validService checks an ip-ranges.json service code.
func validService(b []byte) bool {
	if len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validText checks a free-text value: at most maxTextBytes, no C0 or C1
// control character nor DEL, and no "../" or "/.." path fragment. The
// line is valid UTF-8 already.
func validText(b []byte) bool {
	if len(b) > maxTextBytes {
		return false
	}
	for i, c := range b {
		switch {
		case c < 0x20 || c == 0x7f:
			return false
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			return false // U+0080 to U+009F
		case c == '.' && i+1 < len(b) && b[i+1] == '.':
			if (i+2 < len(b) && b[i+2] == '/') || (i > 0 && b[i-1] == '/') || i+2 == len(b) && i == 0 {
				return false
			}
		}
	}
	return true
}
