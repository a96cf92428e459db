package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The import lease's decoder reads the lab's own export stream (grain tables after every 512 grains, directory,
// footer, end marker) back into the raw disk, and refuses what it cannot take, saying why.

func TestReceiveStreamVMDKRoundTrip(t *testing.T) {
	ps := newPatterns()
	capacity := int64(40 << 20) // 640 grains: a full and a partial grain table
	s := newStreamVMDK(ps, capacity, 5, "d.vmdk")
	path := filepath.Join(t.TempDir(), "disk.vmdk")
	if err := receiveStreamVMDK(io.NewSectionReader(s, 0, s.Size()), path, capacity); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != capacity {
		t.Fatalf("flat file of %d bytes, want %d", len(got), capacity)
	}
	for g := uint64(0); g < uint64(capacity/grainBytes); g++ {
		if !bytes.Equal(got[g*grainBytes:(g+1)*grainBytes], ps.rawGrain(5, g)) {
			t.Fatalf("grain %d differs from the exported content", g)
		}
	}
}

func TestReceiveStreamVMDKRefusals(t *testing.T) {
	ps := newPatterns()
	s := newStreamVMDK(ps, 4<<20, 1, "d.vmdk")
	whole := make([]byte, s.Size())
	if _, err := s.ReadAt(whole, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "disk.vmdk")
	for _, c := range []struct {
		name     string
		body     []byte
		capacity int64
		want     string
	}{
		{"not a VMDK", bytes.Repeat([]byte{7}, 4096), 4 << 20, "not a VMDK"},
		{"larger than the disk", whole, 2 << 20, "larger than the disk"},
		{"cut inside a grain", whole[:overheadSecs*sectorSize+70000], 4 << 20, "ended inside the grain"},
	} {
		err := receiveStreamVMDK(bytes.NewReader(c.body), path, c.capacity)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
