package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/vmware/govmomi/vim25/types"
)

// Reading a disk's content as of an epoch (disks.go keeps the epochs): the frozen overlays of lab writes, and the
// views that serve its raw bytes and VMDK grain records to exports, /folder and diskSha256.

// view reads one disk as of an epoch (all writes so far when live). What a frozen epoch holds never changes (new
// writes get later epochs), so it is built once and shared; each view keeps its own one-grain cache.
func (r *diskRegistry) view(file string, epoch uint64, live bool) *diskView {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.disks[file]
	if !ok {
		return nil
	}
	if live || epoch > s.epoch {
		epoch = s.epoch
	}
	frozen := epoch < s.epoch
	ck := fmt.Sprintf("%s@%d", file, epoch)
	c, ok := r.contents[ck]
	if !ok || !frozen {
		c = s.contentAt(epoch)
		if frozen {
			if len(r.contents) >= 32 {
				r.contents = map[string]*diskContent{}
			}
			r.contents[ck] = c
		}
	}
	return &diskView{ps: r.ps, seed: s.seed, capacity: s.capacity, base: s.base, written: c.written, key: c.key, lastG: ^uint64(0)}
}

// diskContent is the overlay of a disk at one epoch: grain → seed of its latest write.
type diskContent struct {
	written map[uint64]int64
	key     string // identifies the content (export manifest cache)
}

func (s *diskState) contentAt(epoch uint64) *diskContent {
	c := &diskContent{written: map[uint64]int64{}}
	for g, ws := range s.writes {
		for i := len(ws) - 1; i >= 0; i-- {
			if ws[i].epoch <= epoch {
				c.written[g] = ws[i].seed
				break
			}
		}
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d/%s", s.file, s.capacity, s.seed, s.baseID)
	grains := make([]uint64, 0, len(c.written))
	for g := range c.written {
		grains = append(grains, g)
	}
	sort.Slice(grains, func(i, j int) bool { return grains[i] < grains[j] })
	for _, g := range grains {
		fmt.Fprintf(h, ";%d=%d", g, c.written[g])
	}
	c.key = fmt.Sprintf("%x", h.Sum64())
	return c
}

// liveView is a disk's current content.
func (r *diskRegistry) liveView(file string) *diskView { return r.view(file, 0, true) }

// diskView reads one disk's raw bytes (io.ReaderAt) and serves the VMDK stream's grain records.
type diskView struct {
	ps       *patterns
	seed     int64
	capacity int64
	base     io.ReaderAt      // imported content; nil: generated patterns
	written  map[uint64]int64 // grain → write seed
	key      string           // identifies the content (manifest cache)

	mu    sync.Mutex // one-grain cache: readers go through a grain in several calls
	lastG uint64
	raw   []byte
	rec   []byte
}

// writtenGrain is the content of grain g after a lab write with seed w: for j = 0..2047 the SHA-256 of the
// ASCII text "vcsim-write-<w>-<g>-<j>" (inventory.json "diskContent").
func writtenGrain(w int64, g uint64) []byte {
	raw := make([]byte, 0, grainBytes)
	prefix := []byte(fmt.Sprintf("vcsim-write-%d-%d-", w, g))
	text := make([]byte, 0, len(prefix)+8)
	for j := 0; j < grainBytes/sha256.Size; j++ {
		text = strconv.AppendInt(append(text[:0], prefix...), int64(j), 10)
		sum := sha256.Sum256(text)
		raw = append(raw, sum[:]...)
	}
	return raw
}

// grain returns the raw content of grain g and, when the grain was written, its VMDK grain record.
func (v *diskView) grain(g uint64) (raw []byte, rec []byte) {
	w, ok := v.written[g]
	if !ok && v.base == nil {
		k := patternIndex(v.seed, g)
		return v.ps.raw[k], v.ps.records[k]
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lastG != g {
		if ok {
			v.raw = writtenGrain(w, g)
		} else {
			v.raw = make([]byte, grainBytes)
			if _, err := v.base.ReadAt(v.raw, int64(g)*grainBytes); err != nil && err != io.EOF {
				panic(fmt.Sprintf("reading the imported disk: %v", err))
			}
		}
		v.rec = grainRecord(v.raw)
		v.lastG = g
	}
	return v.raw, v.rec
}

// grainRecord is the stream-optimized grain record of a raw grain (LBA field zero: patched by the reader).
func grainRecord(raw []byte) []byte {
	rec := make([]byte, recordBytes)
	binary.LittleEndian.PutUint32(rec[8:], zlibBytes)
	z := rec[markerBytes:]
	z[0], z[1] = 0x78, 0x01
	pos := 2
	for half := 0; half < 2; half++ {
		z[pos] = byte(half)
		binary.LittleEndian.PutUint16(z[pos+1:], grainBytes/2)
		binary.LittleEndian.PutUint16(z[pos+3:], ^uint16(grainBytes/2))
		pos += 5
		pos += copy(z[pos:], raw[half*grainBytes/2:(half+1)*grainBytes/2])
	}
	binary.BigEndian.PutUint32(z[pos:], adler32.Checksum(raw))
	return rec
}

// ReadAt reads the raw disk (the content of "<name>-flat.vmdk").
func (v *diskView) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	n := 0
	for len(p) > 0 && off < v.capacity {
		g := uint64(off / grainBytes)
		raw, _ := v.grain(g)
		in := off % grainBytes
		lim := int64(len(raw)) - in
		if rest := v.capacity - off; rest < lim {
			lim = rest
		}
		c := copy(p[:min64(int64(len(p)), lim)], raw[in:])
		p, off, n = p[c:], off+int64(c), n+c
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// exportView is the content an export serves: as of the exported snapshot, or the live disk frozen now.
func (r *diskRegistry) exportView(vm types.ManagedObjectReference, snap *types.ManagedObjectReference, d *types.VirtualDisk) *diskView {
	file := diskFile(d)
	if snap != nil {
		if f, ok := r.snapshotFreeze(*snap, file); ok {
			r.mu.Lock()
			r.diskLocked(vm, d)
			r.mu.Unlock()
			return r.view(file, f.epoch, false)
		}
	}
	e := r.freezeNow(vm, d)
	return r.view(file, e, false)
}
