package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math/rand"
	"testing"
)

// Layout checks for the generated stream-optimized VMDK; qemu-img is the end-to-end check.

func TestStreamSize(t *testing.T) {
	ps := newPatterns()
	for _, c := range []struct{ mib, want int64 }{{64, 67706368}, {1024, 1082280448}} {
		if got := newStreamVMDK(ps, c.mib<<20, 1, "d.vmdk").Size(); got != c.want {
			t.Errorf("%d MiB: size %d, want %d", c.mib, got, c.want)
		}
	}
}

func TestGrainsInflateToPattern(t *testing.T) {
	ps := newPatterns()
	s := newStreamVMDK(ps, 40<<20, 5, "d.vmdk") // 640 grains: a full and a partial grain table
	data := make([]byte, s.Size())
	if _, err := s.ReadAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if string(data[:4]) != "KDMV" {
		t.Fatalf("magic %q", data[:4])
	}
	off := int64(overheadSecs * sectorSize)
	for g := uint64(0); g < s.grains; g++ {
		if g > 0 && g%gtEntries == 0 {
			off += gtMetaSectors * sectorSize
		}
		lba := binary.LittleEndian.Uint64(data[off:])
		size := binary.LittleEndian.Uint32(data[off+8:])
		if lba != g*grainSectors || size != zlibBytes {
			t.Fatalf("grain %d: marker lba %d size %d", g, lba, size)
		}
		zr, err := zlib.NewReader(bytes.NewReader(data[off+markerBytes : off+markerBytes+int64(size)]))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("grain %d: %v", g, err)
		}
		if !bytes.Equal(raw, ps.rawGrain(5, g)) {
			t.Fatalf("grain %d: content differs", g)
		}
		off += recordBytes
	}
	// last grain table marker, then GD marker, GD, footer marker, footer, EOS
	if k := binary.LittleEndian.Uint32(data[off+12:]); k != markerGT {
		t.Fatalf("marker after last grain: type %d", k)
	}
	tail := data[len(data)-3*sectorSize:]
	if k := binary.LittleEndian.Uint32(tail[12:]); k != markerFooter {
		t.Fatalf("footer marker type %d", k)
	}
	if string(tail[sectorSize:sectorSize+4]) != "KDMV" || !bytes.Equal(tail[2*sectorSize:], make([]byte, sectorSize)) {
		t.Fatal("footer or end-of-stream marker malformed")
	}
}

func TestReadAtMatchesSequential(t *testing.T) {
	s := newStreamVMDK(newPatterns(), 33<<20, 2, "d.vmdk")
	all := make([]byte, s.Size())
	if _, err := io.ReadFull(io.NewSectionReader(s, 0, s.Size()), all); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		off := r.Int63n(s.Size())
		n := r.Intn(200000) + 1
		buf := make([]byte, n)
		got, err := s.ReadAt(buf, off)
		want := all[off:]
		if len(want) > n {
			want = want[:n]
		}
		if got != len(want) || !bytes.Equal(buf[:got], want) || (got < n) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, got, err)
		}
	}
}

func BenchmarkStream(b *testing.B) {
	s := newStreamVMDK(newPatterns(), 1<<30, 1, "d.vmdk")
	buf := make([]byte, 32<<10)
	b.SetBytes(s.Size())
	for i := 0; i < b.N; i++ {
		if _, err := io.CopyBuffer(io.Discard, io.NewSectionReader(s, 0, s.Size()), buf); err != nil {
			b.Fatal(err)
		}
	}
}
