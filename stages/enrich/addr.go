package enrich

import "net/netip"

// parseAddr parses a textual IPv4 or IPv6 address without allocating (the
// standard library's parsers take a string, and converting the bytes to one
// allocates). It accepts what netip.ParseAddr accepts, except IPv6 zones
// ("%eth0"), which flow logs never carry.
func parseAddr(b []byte) (netip.Addr, bool) {
	for _, c := range b {
		switch c {
		case '.':
			v4, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4(v4), true
		case ':':
			v6, ok := parseIPv6(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom16(v6), true
		}
	}
	return netip.Addr{}, false
}

// parseIPv4 parses dotted-quad decimal with no leading zeros.
func parseIPv4(b []byte) (ip [4]byte, ok bool) {
	field, val, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 {
				return ip, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return ip, false
			}
		case c == '.':
			if digits == 0 || field == 3 {
				return ip, false
			}
			ip[field] = byte(val)
			field++
			val, digits = 0, 0
		default:
			return ip, false
		}
	}
	if field != 3 || digits == 0 {
		return ip, false
	}
	ip[3] = byte(val)
	return ip, true
}

// hexAny maps hex digits of either case to their value, else 0xff.
var hexAny = func() (t [256]byte) {
	t = hexLower
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
	}
	return t
}()

// parseIPv6 parses RFC 4291 text: groups of 1–4 hex digits, one optional
// "::", and an optional trailing dotted IPv4 part.
func parseIPv6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // byte position of "::"
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return ip, true // "::"
		}
	}
	i := 0
	for i < 16 {
		off, acc := 0, 0
		for off < len(b) {
			d := hexAny[b[off]]
			if d > 15 {
				break
			}
			if off == 4 {
				return ip, false // more than 4 digits
			}
			acc = acc<<4 | int(d)
			off++
		}
		if off == 0 {
			return ip, false
		}
		if off < len(b) && b[off] == '.' {
			// Embedded IPv4: only as the last 32 bits.
			if ellipsis < 0 && i != 12 {
				return ip, false
			}
			if i+4 > 16 {
				return ip, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return ip, false
			}
			copy(ip[i:], v4[:])
			i += 4
			b = nil
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		b = b[off:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' {
			return ip, false
		}
		b = b[1:]
		if len(b) == 0 {
			return ip, false // trailing single colon
		}
		if b[0] == ':' {
			if ellipsis >= 0 {
				return ip, false // second "::"
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		for j := ellipsis + n - 1; j >= ellipsis; j-- {
			ip[j] = 0
		}
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one group
	}
	return ip, true
}
