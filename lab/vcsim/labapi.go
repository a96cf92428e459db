package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Lab-only endpoints under /lab/ (no vCenter has them; the listener is 127.0.0.1 and the vSphere Client
// stand-in does not forward them). They stand for the guest OS writing to its disk and for checks tests make:
//
//	POST /lab/disk-write             {"vm":"vm-57","deviceKey":2000,"offset":0,"length":65536,"seed":7}
//	GET  /lab/disk-sha256?vm=vm-57&deviceKey=2000[&snapshot=snapshot-80]
//	POST /lab/reset-change-tracking  {"vm":"vm-57"}
//	GET  /lab/folder-reads           → {"bytes":…, "requests":…} served from disks over /folder so far
//	POST /lab/datastore-free         {"datastore":"LocalDS_0","freeBytes":1048576} (a datastore filling up)
func (g *gate) serveLab(w http.ResponseWriter, r *http.Request) {
	reg := g.lab.disks
	switch {
	case r.URL.Path == "/lab/disk-write" && r.Method == http.MethodPost:
		var req struct {
			VM        string `json:"vm"`
			DeviceKey *int32 `json:"deviceKey"`
			Offset    *int64 `json:"offset"`
			Length    *int64 `json:"length"`
			Seed      *int64 `json:"seed"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			labError(w, http.StatusBadRequest, "the body must be JSON {vm, deviceKey, offset, length, seed}: %v", err)
			return
		}
		if req.DeviceKey == nil || req.Offset == nil || req.Length == nil || req.Seed == nil {
			labError(w, http.StatusBadRequest, "deviceKey, offset, length and seed are required (integers)")
			return
		}
		vm, disk, status, msg := findLabDisk(req.VM, *req.DeviceKey)
		if disk == nil {
			labError(w, status, "%s", msg)
			return
		}
		var state types.VirtualMachinePowerState
		simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
		if state != types.VirtualMachinePowerStatePoweredOn {
			labError(w, http.StatusConflict, "VM %s is %s: lab writes stand for its guest writing, so power it on first", req.VM, state)
			return
		}
		off, n, capacity := *req.Offset, *req.Length, diskCapacity(disk)
		switch {
		case off < 0 || off%grainBytes != 0:
			labError(w, http.StatusBadRequest, "offset %d is not a non-negative multiple of %d (64 KiB grains); use %d", off, grainBytes, off/grainBytes*grainBytes)
			return
		case n <= 0 || n%grainBytes != 0:
			labError(w, http.StatusBadRequest, "length %d is not a positive multiple of %d (64 KiB grains)", n, grainBytes)
			return
		case off+n > capacity:
			labError(w, http.StatusBadRequest, "offset+length %d is beyond the disk's capacity of %d bytes", off+n, capacity)
			return
		}
		epoch := reg.write(vm.Self, disk, uint64(off/grainBytes), uint64(n/grainBytes), *req.Seed)
		labJSON(w, map[string]any{"grains": n / grainBytes, "epoch": epoch})

	case r.URL.Path == "/lab/disk-sha256" && r.Method == http.MethodGet:
		q := r.URL.Query()
		key, err := strconv.ParseInt(q.Get("deviceKey"), 10, 32)
		if err != nil {
			labError(w, http.StatusBadRequest, "deviceKey must be the disk's device key (an integer such as 2000)")
			return
		}
		vm, disk, status, msg := findLabDisk(q.Get("vm"), int32(key))
		if disk == nil {
			labError(w, status, "%s", msg)
			return
		}
		file := diskFile(disk)
		reg.mu.Lock()
		reg.diskLocked(vm.Self, disk)
		reg.mu.Unlock()
		v := reg.liveView(file)
		if s := q.Get("snapshot"); s != "" {
			f, ok := reg.snapshotFreeze(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: s}, file)
			if !ok {
				labError(w, http.StatusNotFound, "VM %s has no snapshot %s holding this disk", vm.Self.Value, s)
				return
			}
			v = reg.view(file, f.epoch, false)
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, io.NewSectionReader(v, 0, v.capacity), make([]byte, 1<<20)); err != nil {
			labError(w, http.StatusInternalServerError, "reading the disk: %v", err)
			return
		}
		labJSON(w, map[string]any{"sha256": hex.EncodeToString(h.Sum(nil)), "bytes": v.capacity})

	case r.URL.Path == "/lab/reset-change-tracking" && r.Method == http.MethodPost:
		var req struct {
			VM string `json:"vm"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.VM == "" {
			labError(w, http.StatusBadRequest, "the body must be JSON {\"vm\": \"vm-57\"}")
			return
		}
		if err := reg.resetChangeTracking(types.ManagedObjectReference{Type: "VirtualMachine", Value: req.VM}); err != nil {
			labError(w, http.StatusConflict, "%v", err)
			return
		}
		labJSON(w, map[string]any{"reset": true})

	case r.URL.Path == "/lab/folder-reads" && r.Method == http.MethodGet:
		labJSON(w, map[string]any{"bytes": reg.folderBytes.Load(), "requests": reg.folderRequests.Load()})

	case r.URL.Path == "/lab/datastore-free" && r.Method == http.MethodPost:
		var req struct {
			Datastore string `json:"datastore"`
			FreeBytes *int64 `json:"freeBytes"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.FreeBytes == nil || *req.FreeBytes < 0 {
			labError(w, http.StatusBadRequest, "the body must be JSON {\"datastore\": \"LocalDS_0\", \"freeBytes\": 1048576}")
			return
		}
		var ds *simulator.Datastore
		for _, e := range simulator.Map.All("Datastore") {
			if d := e.(*simulator.Datastore); d.Name == req.Datastore {
				ds = d
			}
		}
		if ds == nil {
			labError(w, http.StatusNotFound, "no datastore %q", req.Datastore)
			return
		}
		simulator.Map.WithLock(ds, func() {
			ds.Summary.FreeSpace = *req.FreeBytes
			ds.Info.GetDatastoreInfo().FreeSpace = *req.FreeBytes
		})
		labJSON(w, map[string]any{"freeBytes": *req.FreeBytes})

	default:
		labError(w, http.StatusNotFound, "no lab endpoint %s %s (see docs/vcsim.md)", r.Method, r.URL.Path)
	}
}

func findLabDisk(vmID string, key int32) (*simulator.VirtualMachine, *types.VirtualDisk, int, string) {
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: vmID}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil, nil, http.StatusNotFound, fmt.Sprintf("no VM %q (give its managed object id, such as vm-57)", vmID)
	}
	var disks []*types.VirtualDisk
	simulator.Map.WithLock(vm, func() { disks = vmDisks(vm.Config.Hardware.Device) })
	var keys []int32
	for _, d := range disks {
		if d.Key == key {
			return vm, d, 0, ""
		}
		keys = append(keys, d.Key)
	}
	return vm, nil, http.StatusNotFound, fmt.Sprintf("VM %s has no virtual disk with device key %d (its disks: %v)", vmID, key, keys)
}

func labJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func labError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}
