package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Private managed object types that ExportVm / ExportSnapshot calls are re-targeted to (see gate):
// the simulator's VirtualMachine and VirtualMachineSnapshot cannot be wrapped.
const (
	exportVMType       = "LabVmExport"
	exportSnapshotType = "LabSnapshotExport"
	leaseTimeoutSecs   = 300
)

type vmExporter struct {
	mo.ExtensibleManagedObject
	lab *lab
}

type snapshotExporter struct {
	mo.ExtensibleManagedObject
	lab *lab
}

// exportDisk is one file of an export lease.
type exportDisk struct {
	deviceKey string // /vm-57/ParaVirtualSCSIController0:0
	name      string // <vm>-disk-<n>.vmdk
	capacity  int64  // bytes
	vmdk      *streamVMDK
}

type exportRegistry struct {
	ps         *patterns
	seeds      map[string]diskSeed // by backing file name
	disks      *diskRegistry       // lab writes: exports serve the content as of their snapshot or start
	baseURL    string
	thumbprint string
	inj        *injector // fault injection (fault suite); nil disables it

	leases *nfcLeases[*exportLease]

	sumMu sync.Mutex
	sums  map[string]string // manifest SHA-1 cache: "<capacity>/<seed>" → hex
}

func newExportRegistry(seeds map[string]diskSeed) *exportRegistry {
	return &exportRegistry{ps: newPatterns(), seeds: seeds, leases: newNFCLeases[*exportLease](), sums: map[string]string{}}
}

// exportLease wraps the simulator's lease (embedded by value so the PropertyCollector serves it).
type exportLease struct {
	simulator.HttpNfcLease
	reg   *exportRegistry
	token string
	disks []*exportDisk
}

func (x *vmExporter) ExportVm(ctx *simulator.Context, req *types.ExportVm) soap.HasFault {
	body := &methods.ExportVmBody{}
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: req.This.Value}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("managed object not found: %s", ref), &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	if f := x.lab.policy.check(ctx, ref, "VApp.Export"); f != nil {
		body.Fault_ = f
		return body
	}
	var name string
	var state types.VirtualMachinePowerState
	var devices object.VirtualDeviceList
	simulator.Map.WithLock(vm, func() {
		name, state = vm.Name, vm.Runtime.PowerState
		devices = append(devices, vm.Config.Hardware.Device...)
	})
	if state != types.VirtualMachinePowerStatePoweredOff {
		body.Fault_ = soapFault(fmt.Sprintf("The attempted operation cannot be performed in the current state (%s). Power off the VM, or export a snapshot of it (CreateSnapshot_Task + ExportSnapshot).", state),
			&types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: state})
		return body
	}
	lease := x.lab.exports.newLease(ctx, ref, nil, name, devices)
	body.Res = &types.ExportVmResponse{Returnval: lease.Reference()}
	return body
}

func (x *snapshotExporter) ExportSnapshot(ctx *simulator.Context, req *types.ExportSnapshot) soap.HasFault {
	body := &methods.ExportSnapshotBody{}
	ref := types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: req.This.Value}
	snap, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("managed object not found: %s", ref), &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	vmRef := snap.Vm
	vm, ok := simulator.Map.Get(vmRef).(*simulator.VirtualMachine)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("managed object not found: %s", vmRef), &types.ManagedObjectNotFound{Obj: vmRef})
		return body
	}
	if f := x.lab.policy.check(ctx, vmRef, "VApp.Export"); f != nil {
		body.Fault_ = f
		return body
	}
	var name string
	var devices object.VirtualDeviceList
	simulator.Map.WithLock(vm, func() { name = vm.Name })
	simulator.Map.WithLock(snap, func() { devices = append(devices, snap.Config.Hardware.Device...) })
	lease := x.lab.exports.newLease(ctx, vmRef, &ref, name, devices)
	body.Res = &types.ExportSnapshotResponse{Returnval: lease.Reference()}
	return body
}

// diskKey is vCenter's deviceUrl key for a disk: /<vm>/<controller type><bus>:<unit>.
func diskKey(vm types.ManagedObjectReference, devices object.VirtualDeviceList, disk *types.VirtualDisk) string {
	ctrl := "VirtualController"
	bus := int32(0)
	if c := devices.FindByKey(disk.ControllerKey); c != nil {
		ctrl = reflect.TypeOf(c).Elem().Name()
		if bc, ok := c.(types.BaseVirtualController); ok {
			bus = bc.GetVirtualController().BusNumber
		}
	}
	unit := int32(0)
	if disk.UnitNumber != nil {
		unit = *disk.UnitNumber
	}
	return fmt.Sprintf("/%s/%s%d:%d", vm.Value, ctrl, bus, unit)
}

func diskCapacity(d *types.VirtualDisk) int64 {
	if d.CapacityInBytes > 0 {
		return d.CapacityInBytes
	}
	return d.CapacityInKB * 1024
}

func diskFile(d *types.VirtualDisk) string {
	if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		return b.GetVirtualDeviceFileBackingInfo().FileName
	}
	return ""
}

// seedOf returns the configured content seed of a disk, or a stable one derived from its file name.
func (r *exportRegistry) seedOf(d *types.VirtualDisk) int64 {
	file := diskFile(d)
	if s, ok := r.seeds[file]; ok {
		return s.seed
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(file))
	return int64(h.Sum32() % 1000)
}

// snap is the exported snapshot (nil: the VM's live disks, frozen now).
func (r *exportRegistry) newLease(ctx *simulator.Context, entity types.ManagedObjectReference, snap *types.ManagedObjectReference, vmName string, devices object.VirtualDeviceList) *exportLease {
	stock := simulator.NewHttpNfcLease(ctx, entity)
	lease := &exportLease{HttpNfcLease: *stock, reg: r, token: newToken()}
	// Retire the stock lease (its moref embeds the session key) and register this one under a fresh reference.
	stock.HttpNfcLeaseComplete(ctx, &types.HttpNfcLeaseComplete{This: stock.Self})
	lease.Self = newLeaseRef()

	info := lease.Info
	info.Lease = lease.Self
	info.LeaseTimeout = leaseTimeoutSecs
	lease.InitializeProgress = 100
	var total int64
	for n, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		name := fmt.Sprintf("%s-disk-%d.vmdk", vmName, n)
		ed := &exportDisk{
			deviceKey: diskKey(entity, devices, disk),
			name:      name,
			capacity:  diskCapacity(disk),
		}
		ed.vmdk = newStreamVMDK(r.ps, ed.capacity, r.seedOf(disk), name)
		ed.vmdk.view = r.disks.exportView(entity, snap, disk)
		lease.disks = append(lease.disks, ed)
		total += (ed.capacity + 1023) / 1024
		info.DeviceUrl = append(info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:           ed.deviceKey,
			ImportKey:     ed.deviceKey,
			Url:           fmt.Sprintf("%s/nfc/%s/%s", r.baseURL, lease.token, url.PathEscape(name)),
			SslThumbprint: r.thumbprint,
			Disk:          types.NewBool(true),
			TargetId:      name,
			FileSize:      ed.vmdk.Size(),
		})
	}
	info.TotalDiskCapacityInKB = total

	// Registered globally, as in vCenter: the lease outlives the session that asked for it (re-login, cleanup
	// from another session).
	simulator.Map.Put(lease)
	r.leases.add(lease.token, lease)
	if msg := r.inj.leaseInitFault(); msg != "" {
		// Injected: the lease never becomes ready; it goes from initializing to error shortly after.
		lease.State = types.HttpNfcLeaseStateInitializing
		lease.InitializeProgress = 0
		time.AfterFunc(150*time.Millisecond, func() { lease.fail(msg) })
	}
	return lease
}

func newUUID() string { return uuid.New().String() }

func newToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// serve answers GET/HEAD /nfc/<token>/<file> for live export leases; false means "not ours".
func (r *exportRegistry) serve(w http.ResponseWriter, req *http.Request) bool {
	lease, file, ok := r.leases.find(req.URL.Path)
	if !ok {
		return false
	}
	var disk *exportDisk
	for _, d := range lease.disks {
		if d.name == file {
			disk = d
		}
	}
	if disk == nil {
		http.NotFound(w, req)
		return true
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "export URLs are read-only", http.StatusMethodNotAllowed)
		return true
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	var out http.ResponseWriter = w
	if faults := r.inj.transferFaults(); faults != nil && req.Method == http.MethodGet {
		out = &faultWriter{ResponseWriter: w, inj: r.inj, lease: lease, faults: faults}
	}
	http.ServeContent(out, req, disk.name, time.Time{}, io.NewSectionReader(disk.vmdk, 0, disk.vmdk.Size()))
	return true
}

func (l *exportLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	if f := leaseFault(&l.HttpNfcLease); f != nil {
		return &methods.HttpNfcLeaseCompleteBody{Fault_: f}
	}
	l.reg.leases.revoke(l.token)
	l.State = types.HttpNfcLeaseStateDone
	return l.HttpNfcLease.HttpNfcLeaseComplete(ctx, req)
}

func (l *exportLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	l.reg.leases.revoke(l.token)
	l.State = types.HttpNfcLeaseStateError
	return l.HttpNfcLease.HttpNfcLeaseAbort(ctx, req)
}

func (l *exportLease) HttpNfcLeaseProgress(ctx *simulator.Context, req *types.HttpNfcLeaseProgress) soap.HasFault {
	if f := progressFault(&l.HttpNfcLease, req.Percent); f != nil {
		return &methods.HttpNfcLeaseProgressBody{Fault_: f}
	}
	return l.HttpNfcLease.HttpNfcLeaseProgress(ctx, req)
}

// HttpNfcLeaseGetManifest reads every disk stream once to hash it (about 1 s per GiB; cached).
func (l *exportLease) HttpNfcLeaseGetManifest(ctx *simulator.Context, req *types.HttpNfcLeaseGetManifest) soap.HasFault {
	var out []types.HttpNfcLeaseManifestEntry
	for _, d := range l.disks {
		out = append(out, types.HttpNfcLeaseManifestEntry{
			Key:           d.deviceKey,
			Sha1:          l.reg.sha1Of(d.vmdk),
			Size:          d.vmdk.Size(),
			Disk:          true,
			Capacity:      d.capacity,
			PopulatedSize: d.capacity,
		})
	}
	return &methods.HttpNfcLeaseGetManifestBody{Res: &types.HttpNfcLeaseGetManifestResponse{Returnval: out}}
}

func (r *exportRegistry) sha1Of(s *streamVMDK) string {
	key := fmt.Sprintf("%d/%d/%s", s.capSectors, s.seed, s.name)
	if s.view != nil {
		key += "/" + s.view.key
	}
	r.sumMu.Lock()
	defer r.sumMu.Unlock()
	if v, ok := r.sums[key]; ok {
		return v
	}
	h := sha1.New()
	_, _ = io.Copy(h, io.NewSectionReader(s, 0, s.Size()))
	v := hex.EncodeToString(h.Sum(nil))
	r.sums[key] = v
	return v
}
