package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// QueryChangedDiskAreas (Changed Block Tracking), re-targeted by the gate to this private type because the
// simulator's VirtualMachine cannot be extended. Disk state and changeIds: disks.go.
const cbtVMType = "LabVmChangeTracking"

// cbtQueryWindow is how much of the disk one call covers: callers loop on startOffset+length, as with vCenter.
const cbtQueryWindow = int64(1) << 30

type vmChangeTracking struct {
	mo.ExtensibleManagedObject
	lab *lab
}

func (x *vmChangeTracking) QueryChangedDiskAreas(ctx *simulator.Context, req *types.QueryChangedDiskAreas) soap.HasFault {
	body := &methods.QueryChangedDiskAreasBody{}
	info, fault := x.query(req)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: *info}
	return body
}

func (x *vmChangeTracking) query(req *types.QueryChangedDiskAreas) (*types.DiskChangeInfo, *soap.Fault) {
	reg := x.lab.disks
	vmRef := types.ManagedObjectReference{Type: "VirtualMachine", Value: req.This.Value}
	vm, ok := simulator.Map.Get(vmRef).(*simulator.VirtualMachine)
	if !ok {
		return nil, soapFault(fmt.Sprintf("managed object not found: %s", vmRef), &types.ManagedObjectNotFound{Obj: vmRef})
	}
	var on bool
	var state types.VirtualMachinePowerState
	var live []types.BaseVirtualDevice
	simulator.Map.WithLock(vm, func() {
		on, state = changeTrackingOn(vm.Config), vm.Runtime.PowerState
		live = append(live, vm.Config.Hardware.Device...)
	})

	var devices []types.BaseVirtualDevice
	var frozen freeze
	if req.Snapshot != nil {
		snap, ok := simulator.Map.Get(*req.Snapshot).(*simulator.VirtualMachineSnapshot)
		if !ok || snap.Vm != vmRef {
			return nil, soapFault(fmt.Sprintf("managed object not found: %s (a snapshot of %s)", *req.Snapshot, vmRef.Value), &types.ManagedObjectNotFound{Obj: *req.Snapshot})
		}
		simulator.Map.WithLock(snap, func() { devices = append(devices, snap.Config.Hardware.Device...) })
	} else {
		// vCenter computes against the VM's current state only while it is powered off.
		if state != types.VirtualMachinePowerStatePoweredOff {
			return nil, soapFault("QueryChangedDiskAreas without a snapshot works only on a powered-off VM: create a snapshot and pass it", &types.InvalidArgument{InvalidProperty: "snapshot"})
		}
		devices = live
	}
	var disk *types.VirtualDisk
	for _, d := range vmDisks(devices) {
		if d.Key == req.DeviceKey {
			disk = d
		}
	}
	if disk == nil {
		return nil, soapFault(fmt.Sprintf("the VM has no virtual disk with device key %d", req.DeviceKey), &types.InvalidArgument{InvalidProperty: "deviceKey"})
	}
	file := diskFile(disk)
	capacity := diskCapacity(disk)
	if req.StartOffset < 0 || req.StartOffset >= capacity {
		return nil, soapFault(fmt.Sprintf("startOffset %d is outside the disk (capacity %d bytes)", req.StartOffset, capacity), &types.InvalidArgument{InvalidProperty: "startOffset"})
	}

	reg.mu.Lock()
	reg.syncLocked(vmRef, on, vmDisks(live))
	s := reg.diskLocked(vmRef, disk)
	ctID, current := s.ctID, s.epoch
	reg.mu.Unlock()
	if req.Snapshot != nil {
		f, ok := reg.snapshotFreeze(*req.Snapshot, file)
		if !ok {
			return nil, soapFault(fmt.Sprintf("snapshot %s does not hold disk %s", req.Snapshot.Value, file), &types.FileFault{File: file})
		}
		frozen = f
	} else {
		frozen = freeze{epoch: current, changeID: fmt.Sprintf("%s/%d", ctID, current)}
	}
	fileFault := func(why string) *soap.Fault {
		return soapFault(fmt.Sprintf("Error caused by file %s: %s", file, why), &types.FileFault{File: file})
	}
	if !on || ctID == "" {
		return nil, fileFault("changed block tracking is not enabled on this virtual disk")
	}
	if frozen.changeID == "" || !strings.HasPrefix(frozen.changeID, ctID+"/") {
		return nil, fileFault("the snapshot was taken while changed block tracking was off or before it was reset")
	}

	end := req.StartOffset + cbtQueryWindow
	if end > capacity {
		end = capacity
	}
	info := &types.DiskChangeInfo{StartOffset: req.StartOffset, Length: end - req.StartOffset}
	if req.ChangeId == "*" {
		// Generated disks are fully allocated.
		info.ChangedArea = []types.DiskChangeExtent{{Start: req.StartOffset, Length: end - req.StartOffset}}
		return info, nil
	}
	id, seq, ok := strings.Cut(req.ChangeId, "/")
	from, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || id != ctID || from > frozen.epoch {
		return nil, fileFault(fmt.Sprintf("changeId %q is not valid for this disk (change tracking was reset, or the changeId belongs to another disk)", req.ChangeId))
	}
	info.ChangedArea = changedExtents(reg.changedGrains(file, from, frozen.epoch), req.StartOffset, end)
	return info, nil
}

// changedExtents merges changed grains into runs and clips them to [start, end).
func changedExtents(grains []uint64, start, end int64) []types.DiskChangeExtent {
	var out []types.DiskChangeExtent
	for _, g := range grains {
		a, b := int64(g)*grainBytes, int64(g+1)*grainBytes
		if a < start {
			a = start
		}
		if b > end {
			b = end
		}
		if a >= b {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Start+out[n-1].Length == a {
			out[n-1].Length += b - a
			continue
		}
		out = append(out, types.DiskChangeExtent{Start: a, Length: b - a})
	}
	return out
}
