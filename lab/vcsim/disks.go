package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// The lab's virtual disks as mutable content: generated grains (inventory.json "diskContent") overlaid with
// lab writes at 64 KiB grain granularity, each write stamped with the disk's epoch. A snapshot or an export
// freezes a disk at an epoch (the epoch then moves on), so the content "as of" a snapshot is the generated
// content plus, for each grain, its latest write of an epoch <= the frozen one; Changed Block Tracking reports
// the grains written in the epochs between two freezes. Writes are kept as a history (small: one entry per
// written grain per write), never as data: a written grain's bytes are recomputed from its write seed.

type diskWrite struct {
	epoch uint64
	seed  int64
}

type diskState struct {
	file     string // "[LocalDS_0] dir/name.vmdk"
	vm       types.ManagedObjectReference
	capacity int64
	seed     int64
	epoch    uint64                 // writes now belong to this epoch
	writes   map[uint64][]diskWrite // grain → its writes, oldest first
	ctID     string                 // change tracking identity (changeId prefix); "" while CBT is off
	base     io.ReaderAt            // an imported disk's content (flat file); nil: generated grains
	baseID   string                 // names that content (manifest cache keys)
}

// freeze is one disk's state captured by a snapshot.
type freeze struct {
	epoch    uint64
	changeID string // "" when CBT was off at the snapshot
}

type snapState struct {
	vm    types.ManagedObjectReference
	disks map[string]freeze // by backing file
}

type diskRegistry struct {
	ps     *patterns
	seedOf func(*types.VirtualDisk) int64

	mu       sync.Mutex
	disks    map[string]*diskState
	contents map[string]*diskContent // frozen overlays by "<file>@<epoch>"
	snaps    map[types.ManagedObjectReference]*snapState
	ctOn     map[types.ManagedObjectReference]bool // CBT as last seen per VM
	imported map[string]*os.File                   // disk file → flat file an import lease wrote

	folderBytes    atomic.Int64 // body bytes served from disks over /folder
	folderRequests atomic.Int64
}

func newDiskRegistry(ps *patterns, seedOf func(*types.VirtualDisk) int64) *diskRegistry {
	return &diskRegistry{
		ps: ps, seedOf: seedOf,
		disks: map[string]*diskState{}, contents: map[string]*diskContent{},
		snaps:    map[types.ManagedObjectReference]*snapState{},
		ctOn:     map[types.ManagedObjectReference]bool{},
		imported: map[string]*os.File{},
	}
}

// diskLocked returns the state of a VM's disk, creating it at first sight. Callers hold r.mu.
func (r *diskRegistry) diskLocked(vm types.ManagedObjectReference, d *types.VirtualDisk) *diskState {
	file := diskFile(d)
	if s, ok := r.disks[file]; ok {
		return s
	}
	s := &diskState{file: file, vm: vm, capacity: diskCapacity(d), seed: r.seedOf(d), epoch: 1, writes: map[uint64][]diskWrite{}}
	if f, ok := r.imported[file]; ok {
		s.base, s.baseID = f, f.Name()
	}
	r.disks[file] = s
	return s
}

// setImported makes a disk read the flat file an import lease wrote (from its first byte, zeros past its end). The
// disk starts afresh: no lab writes, no frozen epochs, as a new VM's disk.
func (r *diskRegistry) setImported(vm types.ManagedObjectReference, d *types.VirtualDisk, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("the imported disk file is gone: %v", err)
	}
	file := diskFile(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.imported[file]; ok {
		_ = old.Close()
	}
	r.imported[file] = f
	delete(r.disks, file)
	r.contents = map[string]*diskContent{}
	s := r.diskLocked(vm, d)
	s.baseID = fmt.Sprintf("%s#%s", path, newToken())
	return nil
}

func vmDisks(devices []types.BaseVirtualDevice) []*types.VirtualDisk {
	var out []*types.VirtualDisk
	for _, d := range devices {
		if disk, ok := d.(*types.VirtualDisk); ok {
			out = append(out, disk)
		}
	}
	return out
}

func changeTrackingOn(c *types.VirtualMachineConfigInfo) bool {
	return c != nil && c.ChangeTrackingEnabled != nil && *c.ChangeTrackingEnabled
}

// syncLocked applies the VM's CBT setting: turning it on gives every disk a new tracking identity (so changeIds
// from before are refused, as after a CBT reset); turning it off forgets the identity. Callers hold r.mu.
func (r *diskRegistry) syncLocked(vm types.ManagedObjectReference, on bool, disks []*types.VirtualDisk) {
	was := r.ctOn[vm]
	r.ctOn[vm] = on
	for _, d := range disks {
		s := r.diskLocked(vm, d)
		switch {
		case !on:
			s.ctID = ""
		case !was || s.ctID == "":
			s.ctID = newChangeTrackingID()
		}
	}
}

// syncVM reads the VM's CBT setting (after ReconfigVM_Task) and applies it.
func (r *diskRegistry) syncVM(ref types.ManagedObjectReference) {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	var on bool
	var disks []*types.VirtualDisk
	simulator.Map.WithLock(vm, func() {
		on = changeTrackingOn(vm.Config)
		if vm.Config != nil {
			disks = vmDisks(vm.Config.Hardware.Device)
		}
	})
	r.mu.Lock()
	r.syncLocked(ref, on, disks)
	r.mu.Unlock()
}

// resetChangeTracking gives every disk of the VM a new tracking identity, as vSphere does when CBT is reset
// (disabled and enabled, or its .ctk files lost): every changeId handed out before is refused.
func (r *diskRegistry) resetChangeTracking(ref types.ManagedObjectReference) error {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return fmt.Errorf("no VM %s", ref.Value)
	}
	var on bool
	var disks []*types.VirtualDisk
	simulator.Map.WithLock(vm, func() {
		on = changeTrackingOn(vm.Config)
		disks = vmDisks(vm.Config.Hardware.Device)
	})
	if !on {
		return fmt.Errorf("changed block tracking is off on VM %s: enable it first (ReconfigVM_Task with changeTrackingEnabled=true)", ref.Value)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncLocked(ref, on, disks)
	for _, d := range disks {
		r.diskLocked(ref, d).ctID = newChangeTrackingID()
	}
	return nil
}

// newChangeTrackingID looks like the identity part of a vSphere changeId ("52 de b0 6e 12 4d 0a 94-e8 5a 4e 0a 35 0b 4f 26").
func newChangeTrackingID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[0] = 0x52
	var sb strings.Builder
	for i, x := range b {
		switch {
		case i == 8:
			sb.WriteByte('-')
		case i > 0:
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}

// PutObject (registry handler) freezes the disks of every new snapshot and gives the snapshot its own copy of
// the disk devices, with backing.changeId when CBT is on. The simulator calls it inside CreateSnapshot_Task,
// with the VM locked: read the VM without locking it again.
func (r *diskRegistry) PutObject(obj mo.Reference) {
	snap, ok := obj.(*simulator.VirtualMachineSnapshot)
	if !ok {
		return
	}
	vm, ok := simulator.Map.Get(snap.Vm).(*simulator.VirtualMachine)
	if !ok || vm.Config == nil {
		return
	}
	on := changeTrackingOn(vm.Config)
	// The simulator copies the VM's config by value: its device slice and disks are still the VM's own.
	devices := make([]types.BaseVirtualDevice, len(snap.Config.Hardware.Device))
	copy(devices, snap.Config.Hardware.Device)
	st := &snapState{vm: snap.Vm, disks: map[string]freeze{}}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncLocked(snap.Vm, on, vmDisks(devices))
	for i, dev := range devices {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		s := r.diskLocked(snap.Vm, disk)
		f := freeze{epoch: s.epoch}
		s.epoch++
		if on {
			f.changeID = fmt.Sprintf("%s/%d", s.ctID, f.epoch)
		}
		st.disks[s.file] = f
		nd := *disk
		if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			nb := *b
			nb.ChangeId = f.changeID
			nd.Backing = &nb
		}
		devices[i] = &nd
	}
	snap.Config.Hardware.Device = devices
	r.snaps[snap.Self] = st
}

func (r *diskRegistry) UpdateObject(mo.Reference, []types.PropertyChange) {}

// RemoveObject (registry handler): a removed snapshot no longer holds its disks (consolidation is a no-op).
func (r *diskRegistry) RemoveObject(ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachineSnapshot" {
		return
	}
	r.mu.Lock()
	delete(r.snaps, ref)
	r.mu.Unlock()
}

// Reference makes the registry a simulator RegisterObject handler.
func (r *diskRegistry) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "LabDiskRegistry", Value: "lab-disks"}
}

// freezeNow freezes a disk's live content (an export of a powered-off VM) and returns the frozen epoch.
func (r *diskRegistry) freezeNow(vm types.ManagedObjectReference, d *types.VirtualDisk) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.diskLocked(vm, d)
	e := s.epoch
	s.epoch++
	return e
}

// snapshotFreeze is what a snapshot froze of a disk.
func (r *diskRegistry) snapshotFreeze(snap types.ManagedObjectReference, file string) (freeze, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.snaps[snap]
	if !ok {
		return freeze{}, false
	}
	f, ok := st.disks[file]
	return f, ok
}

// baseDiskEpoch is the epoch the base disk file holds: while a VM has snapshots its writes go to delta disks,
// so the base disk stays as of the oldest snapshot still present; without one it is live (ok=false).
func (r *diskRegistry) baseDiskEpoch(file string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var min uint64
	found := false
	for _, st := range r.snaps {
		if f, ok := st.disks[file]; ok && (!found || f.epoch < min) {
			min, found = f.epoch, true
		}
	}
	return min, found
}

// write records a lab write of whole grains [first, first+count) at the disk's current epoch.
func (r *diskRegistry) write(vm types.ManagedObjectReference, d *types.VirtualDisk, first, count uint64, seed int64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.diskLocked(vm, d)
	for g := first; g < first+count; g++ {
		s.writes[g] = append(s.writes[g], diskWrite{epoch: s.epoch, seed: seed})
	}
	return s.epoch
}

// changedGrains lists the grains written in epochs (from, to], ascending.
func (r *diskRegistry) changedGrains(file string, from, to uint64) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.disks[file]
	if !ok {
		return nil
	}
	var out []uint64
	for g, ws := range s.writes {
		for _, w := range ws {
			if w.epoch > from && w.epoch <= to {
				out = append(out, g)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// registerAll records every VM's disks, so /folder knows them before any other call does.
func (r *diskRegistry) registerAll() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		var disks []*types.VirtualDisk
		simulator.Map.WithLock(vm, func() {
			if vm.Config != nil {
				disks = vmDisks(vm.Config.Hardware.Device)
			}
		})
		r.mu.Lock()
		for _, d := range disks {
			r.diskLocked(vm.Self, d)
		}
		r.mu.Unlock()
	}
}
