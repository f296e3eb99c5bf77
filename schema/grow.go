package schema

// Reserve returns s with room for n more elements. When it must grow, it at
// least doubles the capacity: append's own policy grows large slices by a
// quarter at a time, so a block or a fetch that grows to N bytes would copy
// about 5N bytes (and fault in fresh pages for each copy) instead of 2N.
func Reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	return append(s, make([]T, max(n, cap(s), 16))...)[:len(s)]
}
