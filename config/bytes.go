package config

import (
	"strconv"
	"strings"
)

// byteUnits are the suffixes byteSize accepts, longest first.
var byteUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// byteSize reads a size in bytes: a plain integer or one with a KiB, MiB or
// GiB suffix (e.g. 64MiB), from min to max.
func (r *reader) byteSize(key string, def, min, max int64) int64 {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	num, mult := v, int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(v, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > max/mult || n*mult < min {
		r.fail(key, v, "must be a size in bytes from "+strconv.FormatInt(min, 10)+" to "+strconv.FormatInt(max, 10)+
			" (an integer, or with a KiB, MiB or GiB suffix, e.g. 64MiB)")
		return def
	}
	return n * mult
}
