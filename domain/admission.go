package domain

import (
	"fmt"
	"path"
	"strings"
)

// PlatformImages is the pattern of the platform's own images: never a
// function's image, whatever the allow-list says by default.
const PlatformImages = "faas-platform/*"

// FunctionLimits are the operator's caps on what a function may ask for
// (FUNCTION_IMAGES, FUNCTION_MAX_MEMORY_MB, FUNCTION_MAX_CPUS). The zero
// value allows any image but the platform's own and caps nothing.
type FunctionLimits struct {
	// Images are path.Match patterns (e.g. "faas-examples/*"); empty: any
	// image except PlatformImages. A tag or digest is not part of the match.
	Images      []string
	MaxMemoryMB int     // 0: no cap
	MaxCPUs     float64 // 0: no cap
}

// Admit reports whether f fits l: an ErrInvalidInput error naming the cap
// otherwise. It looks at the image's name only, never at a daemon, so it
// tells nothing about which images exist.
func (l FunctionLimits) Admit(f *Function) error {
	if !l.imageAllowed(f.ImageURL) {
		return Errorf(ErrInvalidInput, "image %q is not allowed on this platform", f.ImageURL)
	}
	if l.MaxMemoryMB > 0 && f.MemoryMB > l.MaxMemoryMB {
		return Errorf(ErrInvalidInput, "memory_mb %d exceeds this platform's limit of %d", f.MemoryMB, l.MaxMemoryMB)
	}
	if l.MaxCPUs > 0 && f.CPUs > l.MaxCPUs {
		return Errorf(ErrInvalidInput, "cpus %s exceeds this platform's limit of %s", fmtCPUs(f.CPUs), fmtCPUs(l.MaxCPUs))
	}
	return nil
}

func (l FunctionLimits) imageAllowed(ref string) bool {
	name := imageName(ref)
	if len(l.Images) == 0 {
		ok, _ := path.Match(PlatformImages, name)
		return !ok
	}
	for _, p := range l.Images {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// imageName is ref without its digest and tag.
func imageName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// ValidImagePatterns reports the first malformed pattern of ps.
func ValidImagePatterns(ps []string) error {
	for _, p := range ps {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	return nil
}

func fmtCPUs(c float64) string { return fmt.Sprintf("%g", c) }
