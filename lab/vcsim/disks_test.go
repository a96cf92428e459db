package main

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

// Disk content with lab writes: epochs, frozen views, changed grains, and the VMDK stream of a written disk.

func testDisk(mib int64) *types.VirtualDisk {
	d := &types.VirtualDisk{CapacityInBytes: mib << 20}
	d.Backing = &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0] t/t.vmdk"}}
	return d
}

func TestViewsFollowEpochs(t *testing.T) {
	reg := newDiskRegistry(newPatterns(), func(*types.VirtualDisk) int64 { return 3 })
	vm := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	d := testDisk(4)
	file := diskFile(d)
	reg.write(vm, d, 2, 2, 9) // grains 2, 3 at epoch 1
	e1 := reg.freezeNow(vm, d)
	reg.write(vm, d, 3, 1, 10) // grain 3 again, epoch 2
	e2 := reg.freezeNow(vm, d)

	v1 := reg.view(file, e1, false)
	if len(v1.written) != 2 || v1.written[3] != 9 {
		t.Fatalf("view at epoch %d: %v", e1, v1.written)
	}
	if v2 := reg.view(file, e2, false); v2.written[3] != 10 || v2.key == v1.key {
		t.Fatalf("view at epoch %d: %v (key %s vs %s)", e2, v2.written, v2.key, v1.key)
	}
	if got := reg.changedGrains(file, e1, e2); fmt.Sprint(got) != "[3]" {
		t.Fatalf("changed (%d, %d]: %v", e1, e2, got)
	}
	if got := reg.changedGrains(file, 0, e2); fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("changed (0, %d]: %v", e2, got)
	}

	raw := make([]byte, grainBytes)
	if _, err := v1.ReadAt(raw, 3*grainBytes); err != nil {
		t.Fatal(err)
	}
	first := sha256.Sum256([]byte("vcsim-write-9-3-0"))
	if !bytes.Equal(raw[:32], first[:]) || !bytes.Equal(raw, writtenGrain(9, 3)) {
		t.Fatal("grain 3 at epoch 1 is not the write with seed 9")
	}
	if _, err := v1.ReadAt(raw, 4*grainBytes); err != nil || !bytes.Equal(raw, reg.ps.rawGrain(3, 4)) {
		t.Fatalf("unwritten grain 4: %v", err)
	}
}

func TestChangedExtentsMergeAndClip(t *testing.T) {
	g := int64(grainBytes)
	got := changedExtents([]uint64{1, 2, 3, 7, 15, 16}, 2*g, 16*g)
	want := []types.DiskChangeExtent{{Start: 2 * g, Length: 2 * g}, {Start: 7 * g, Length: g}, {Start: 15 * g, Length: g}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestStreamServesWrittenGrains(t *testing.T) {
	reg := newDiskRegistry(newPatterns(), func(*types.VirtualDisk) int64 { return 5 })
	vm := types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	d := testDisk(2)
	reg.write(vm, d, 1, 1, 77)
	s := newStreamVMDK(reg.ps, 2<<20, 5, "d.vmdk")
	s.view = reg.exportView(vm, nil, d)
	data := make([]byte, s.Size())
	if _, err := s.ReadAt(data, 0); err != nil {
		t.Fatal(err)
	}
	for g := uint64(0); g < 3; g++ {
		off := int64(overheadSecs*sectorSize) + int64(g)*recordBytes
		zr, err := zlib.NewReader(bytes.NewReader(data[off+markerBytes : off+markerBytes+zlibBytes]))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr) // checks the Adler-32 too
		if err != nil {
			t.Fatalf("grain %d: %v", g, err)
		}
		want := reg.ps.rawGrain(5, g)
		if g == 1 {
			want = writtenGrain(77, 1)
		}
		if !bytes.Equal(raw, want) {
			t.Fatalf("grain %d: content differs", g)
		}
	}
}
