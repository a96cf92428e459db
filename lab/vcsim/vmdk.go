package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
)

// A stream-optimized VMDK ("Virtual Disk Format 5.0") generated on the fly from a virtual ReaderAt.
// Every grain is stored as zlib with deflate "stored" blocks (no compression), so every grain record has
// the same length and every byte offset of the stream is computable: any disk size is served without
// storage, in constant memory, with Range support. Hand-written because compress/zlib cannot produce
// byte-addressable output, and the raw content must follow inventory.json's "diskContent" rule.

const (
	sectorSize     = 512
	grainSectors   = 128 // 64 KiB grains
	grainBytes     = grainSectors * sectorSize
	gtEntries      = 512 // grain table entries
	overheadSecs   = 128 // header + descriptor + padding before the first grain
	descriptorSecs = 20
	patternCount   = 8

	// zlib stream of one grain: 2-byte header, two stored blocks of 32 KiB (5-byte headers), Adler-32.
	zlibBytes     = 2 + 5 + grainBytes/2 + 5 + grainBytes/2 + 4 // 65552
	markerBytes   = 12                                          // uint64 LBA + uint32 compressed size
	recordSectors = (markerBytes + zlibBytes + sectorSize - 1) / sectorSize
	recordBytes   = recordSectors * sectorSize // 129 sectors
	gtMetaSectors = 1 + gtEntries*4/sectorSize // GT marker + 4 GT sectors

	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3
)

// patterns holds the 8 raw 64 KiB grain patterns and a ready-made grain record for each
// (the record's LBA field is patched per grain).
type patterns struct {
	raw     [patternCount][]byte
	records [patternCount][]byte
}

func newPatterns() *patterns {
	ps := &patterns{}
	for k := 0; k < patternCount; k++ {
		raw := make([]byte, 0, grainBytes)
		for j := 0; j < grainBytes/sha256.Size; j++ {
			sum := sha256.Sum256([]byte(fmt.Sprintf("vcsim-pattern-%d-%d", k, j)))
			raw = append(raw, sum[:]...)
		}
		ps.raw[k] = raw

		ps.records[k] = grainRecord(raw)
	}
	return ps
}

// rawGrain is the raw content of grain g of a disk with the given seed.
func (ps *patterns) rawGrain(seed int64, g uint64) []byte {
	return ps.raw[patternIndex(seed, g)]
}

func patternIndex(seed int64, g uint64) int {
	k := (int64(g%patternCount) + seed%patternCount) % patternCount
	if k < 0 {
		k += patternCount
	}
	return int(k)
}

// streamVMDK is the virtual file; it implements io.ReaderAt.
type streamVMDK struct {
	ps           *patterns
	seed         int64
	name         string
	capSectors   uint64
	grains       uint64
	tables       uint64
	head         []byte // sectors [0, overheadSecs)
	tail         []byte // GD marker, GD, footer marker, footer, end-of-stream
	dataEnd      int64  // byte offset of the tail
	size         int64
	groupSectors uint64
	view         *diskView // lab writes overlaid on the generated content; nil: generated only
}

func newStreamVMDK(ps *patterns, capacityBytes int64, seed int64, fileName string) *streamVMDK {
	s := &streamVMDK{ps: ps, seed: seed, name: fileName}
	s.capSectors = uint64((capacityBytes + sectorSize - 1) / sectorSize)
	s.grains = (s.capSectors + grainSectors - 1) / grainSectors
	s.tables = (s.grains + gtEntries - 1) / gtEntries
	s.groupSectors = gtEntries*recordSectors + gtMetaSectors

	dataEndSec := overheadSecs + recordSectors*s.grains + gtMetaSectors*s.tables
	gdSectors := (s.tables*4 + sectorSize - 1) / sectorSize
	gdSec := dataEndSec + 1
	s.dataEnd = int64(dataEndSec) * sectorSize

	s.head = make([]byte, overheadSecs*sectorSize)
	s.putHeader(s.head[:sectorSize], ^uint64(0)) // grain directory at the end
	copy(s.head[sectorSize:(1+descriptorSecs)*sectorSize], s.descriptor(fileName))

	s.tail = make([]byte, (1+gdSectors+3)*sectorSize)
	putMarker(s.tail, gdSectors, markerGD)
	for t := uint64(0); t < s.tables; t++ {
		gtSec := s.groupStart(t) + recordSectors*s.grainsIn(t) + 1
		binary.LittleEndian.PutUint32(s.tail[sectorSize+4*t:], uint32(gtSec))
	}
	footer := s.tail[(1+gdSectors)*sectorSize:]
	putMarker(footer, 1, markerFooter)
	s.putHeader(footer[sectorSize:2*sectorSize], gdSec)
	// the last sector stays zero: end-of-stream marker
	s.size = s.dataEnd + int64(len(s.tail))
	return s
}

// Size is the exact length of the stream in bytes.
func (s *streamVMDK) Size() int64 { return s.size }

func (s *streamVMDK) groupStart(t uint64) uint64 { return overheadSecs + t*s.groupSectors }

func (s *streamVMDK) grainsIn(t uint64) uint64 {
	if n := s.grains - t*gtEntries; n < gtEntries {
		return n
	}
	return gtEntries
}

func (s *streamVMDK) putHeader(b []byte, gdOffset uint64) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], 0x564d444b) // "KDMV"
	le.PutUint32(b[4:], 3)          // version
	le.PutUint32(b[8:], 0x30001)    // valid newline test, compressed grains, markers
	le.PutUint64(b[12:], s.capSectors)
	le.PutUint64(b[20:], grainSectors)
	le.PutUint64(b[28:], 1) // descriptor offset
	le.PutUint64(b[36:], descriptorSecs)
	le.PutUint32(b[44:], gtEntries)
	le.PutUint64(b[48:], 0) // redundant grain directory: none
	le.PutUint64(b[56:], gdOffset)
	le.PutUint64(b[64:], overheadSecs)
	b[72] = 0 // clean shutdown
	b[73], b[74], b[75], b[76] = '\n', ' ', '\r', '\n'
	le.PutUint16(b[77:], 1) // deflate
}

func putMarker(b []byte, sectors uint64, kind uint32) {
	binary.LittleEndian.PutUint64(b[0:], sectors)
	binary.LittleEndian.PutUint32(b[8:], 0)
	binary.LittleEndian.PutUint32(b[12:], kind)
}

func (s *streamVMDK) descriptor(fileName string) []byte {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", s.capSectors, s.seed)
	cid := h.Sum32()
	cylinders := s.capSectors / (255 * 63)
	if cylinders > 65535 {
		cylinders = 65535
	}
	var b strings.Builder
	b.WriteString("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n")
	fmt.Fprintf(&b, "CID=%08x\nparentCID=ffffffff\ncreateType=\"streamOptimized\"\n\n", cid)
	fmt.Fprintf(&b, "# Extent description\nRW %d SPARSE \"%s\"\n\n", s.capSectors, strings.ReplaceAll(fileName, "\"", ""))
	b.WriteString("# The Disk Data Base\n#DDB\n\n")
	b.WriteString("ddb.adapterType = \"lsilogic\"\n")
	fmt.Fprintf(&b, "ddb.geometry.cylinders = \"%d\"\nddb.geometry.heads = \"255\"\nddb.geometry.sectors = \"63\"\n", cylinders)
	fmt.Fprintf(&b, "ddb.longContentID = \"%08x%08x%08x%08x\"\n", cid, cid^0xa5a5a5a5, cid^0x5a5a5a5a, cid^0xffffffff)
	b.WriteString("ddb.virtualHWVersion = \"13\"\n")
	return []byte(b.String())
}

// ReadAt implements io.ReaderAt over the virtual stream.
func (s *streamVMDK) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	n := 0
	for len(p) > 0 && off < s.size {
		var c int
		switch {
		case off < int64(len(s.head)):
			c = copy(p, s.head[off:])
		case off < s.dataEnd:
			c = s.readData(p, off)
		default:
			c = copy(p, s.tail[off-s.dataEnd:])
		}
		p, off, n = p[c:], off+int64(c), n+c
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// readData copies from the grain area: groups of up to 512 grain records, each followed by its grain table.
func (s *streamVMDK) readData(p []byte, off int64) int {
	rel := uint64(off) - overheadSecs*sectorSize
	groupBytes := s.groupSectors * sectorSize
	t := rel / groupBytes
	within := rel % groupBytes
	n := s.grainsIn(t)
	if gi := within / recordBytes; gi < n {
		g := t*gtEntries + gi
		in := within % recordBytes
		rec := s.ps.records[patternIndex(s.seed, g)]
		if s.view != nil {
			_, rec = s.view.grain(g)
		}
		c := copy(p, rec[in:])
		if in < 8 { // patch the marker's LBA
			var lba [8]byte
			binary.LittleEndian.PutUint64(lba[:], g*grainSectors)
			copy(p[:c], lba[in:])
		}
		return c
	}
	// grain table of group t: marker sector + 4 sectors of entries pointing at each grain's marker
	meta := make([]byte, gtMetaSectors*sectorSize)
	putMarker(meta, gtMetaSectors-1, markerGT)
	start := s.groupStart(t)
	for i := uint64(0); i < n; i++ {
		binary.LittleEndian.PutUint32(meta[sectorSize+4*i:], uint32(start+i*recordSectors))
	}
	return copy(p, meta[within-n*recordBytes:])
}
