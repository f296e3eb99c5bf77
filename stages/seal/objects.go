package seal

import "strconv"

// objects adds the archive range of a backfilled file from its Parquet
// metadata (flowlake.first_object, first_line, last_object, last_line);
// Kafka files have none.
func (s *FileSource) objects(meta map[string]string) {
	first, ok1 := meta["flowlake.first_object"]
	last, ok2 := meta["flowlake.last_object"]
	fl, err1 := strconv.ParseInt(meta["flowlake.first_line"], 10, 64)
	ll, err2 := strconv.ParseInt(meta["flowlake.last_line"], 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return
	}
	s.Objects = &ObjectRange{FirstObject: first, FirstLine: fl, LastObject: last, LastLine: ll}
}

// widen extends a stream's range with one of its files.
func (s *Source) widen(f *FileSource) {
	if f.FirstOffset <= s.FirstOffset {
		s.FirstOffset = f.FirstOffset
		if f.Objects != nil && s.Objects != nil {
			s.Objects = &ObjectRange{FirstObject: f.Objects.FirstObject, FirstLine: f.Objects.FirstLine, LastObject: s.Objects.LastObject, LastLine: s.Objects.LastLine}
		}
	}
	if f.LastOffset >= s.LastOffset {
		s.LastOffset = f.LastOffset
		if f.Objects != nil && s.Objects != nil {
			s.Objects = &ObjectRange{FirstObject: s.Objects.FirstObject, FirstLine: s.Objects.FirstLine, LastObject: f.Objects.LastObject, LastLine: f.Objects.LastLine}
		}
	}
}
