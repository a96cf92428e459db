package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The import side of NFC. Stock vcsim's ImportVApp creates the VM and a lease whose upload URLs discard what they
// receive; here ImportVApp (re-targeted like ExportVm, see gate) checks VApp.Import, and its lease's URLs accept
// stream-optimized VMDK uploads (PUT or POST), decode them into the disk's flat file on the datastore, and on
// HttpNfcLeaseComplete the VM's disks read that content (exports, /folder, diskSha256 and CBT all see it).
// HttpNfcLeaseAbort removes the half-made VM and its files, as vCenter does.

const importVAppType = "LabVAppImport"

type vappImporter struct {
	mo.ExtensibleManagedObject
	lab *lab
}

// importDisk is one disk of an import lease.
type importDisk struct {
	deviceKey string // /vm-61/VirtualLsiLogicController0:0
	importKey string // /<vm name>/disk:0, the fileItem deviceId of CreateImportSpec
	name      string // disk-0.vmdk (URL path element)
	file      string // "[LocalDS_0] name/disk-0.vmdk"
	path      string // the flat file on the datastore
	capacity  int64
	disk      *types.VirtualDisk

	mu        sync.Mutex
	uploading bool
	received  int64 // VMDK bytes read by the last upload
	done      bool  // a whole VMDK was decoded into path
}

type importLease struct {
	simulator.HttpNfcLease
	reg   *importRegistry
	token string
	vm    types.ManagedObjectReference
	disks []*importDisk
}

type importRegistry struct {
	lab    *lab
	leases *nfcLeases[*importLease]
}

func newImportRegistry(l *lab) *importRegistry {
	return &importRegistry{lab: l, leases: newNFCLeases[*importLease]()}
}

func (x *vappImporter) ImportVApp(ctx *simulator.Context, req *types.ImportVApp) soap.HasFault {
	body := &methods.ImportVAppBody{}
	ref := types.ManagedObjectReference{Type: "ResourcePool", Value: req.This.Value}
	pool, ok := simulator.Map.Get(ref).(*simulator.ResourcePool)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("managed object not found: %s", ref), &types.ManagedObjectNotFound{Obj: ref})
		return body
	}
	if _, ok := req.Spec.(*types.VirtualMachineImportSpec); !ok {
		body.Fault_ = soapFault("The lab vCenter imports one virtual machine per call (VirtualMachineImportSpec from CreateImportSpec); vApps are not simulated.",
			&types.InvalidArgument{InvalidProperty: "spec"})
		return body
	}
	// vCenter checks VApp.Import on the target resource pool and on the folder the VM goes to.
	if f := x.lab.policy.check(ctx, ref, "VApp.Import"); f != nil {
		body.Fault_ = f
		return body
	}
	folder := req.Folder
	if folder == nil {
		if dc := datacenterOf(ref); dc != nil {
			folder = &dc.VmFolder
		}
	}
	if folder != nil {
		if f := x.lab.policy.check(ctx, *folder, "VApp.Import"); f != nil {
			body.Fault_ = f
			return body
		}
	}
	res := pool.ImportVApp(ctx, &types.ImportVApp{This: ref, Spec: req.Spec, Folder: req.Folder, Host: req.Host})
	if res.Fault() != nil {
		return res
	}
	stockRef := res.(*methods.ImportVAppBody).Res.Returnval
	stock, _ := ctx.Session.Get(stockRef).(*simulator.HttpNfcLease)
	if stock == nil {
		body.Fault_ = soapFault("the simulator did not create an import lease", &types.RuntimeFault{})
		return body
	}
	lease, err := x.lab.imports.newLease(ctx, stock)
	if err != nil {
		body.Fault_ = soapFault(err.Error(), &types.RuntimeFault{})
		return body
	}
	body.Res = &types.ImportVAppResponse{Returnval: lease.Self}
	return body
}

func datacenterOf(ref types.ManagedObjectReference) *mo.Datacenter {
	for cur := simulator.Map.Get(ref); cur != nil; {
		if dc, ok := cur.(*simulator.Datacenter); ok {
			return &dc.Datacenter
		}
		e, ok := cur.(mo.Entity)
		if !ok || e.Entity().Parent == nil {
			return nil
		}
		cur = simulator.Map.Get(*e.Entity().Parent)
	}
	return nil
}

// datastorePath resolves "[ds] dir/file" to the file under the datastore's local directory.
func datastorePath(file string) (string, error) {
	var p object.DatastorePath
	if !p.FromString(file) {
		return "", fmt.Errorf("%q is not a datastore path", file)
	}
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		if ds.Name == p.Datastore {
			return filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path), nil
		}
	}
	return "", fmt.Errorf("no datastore %q", p.Datastore)
}

// newLease replaces the stock lease (session-scoped, upload URLs that discard) with a global one whose URLs keep
// what they receive.
func (r *importRegistry) newLease(ctx *simulator.Context, stock *simulator.HttpNfcLease) (*importLease, error) {
	vmRef := stock.Info.Entity
	stock.HttpNfcLeaseComplete(ctx, &types.HttpNfcLeaseComplete{This: stock.Self})
	vm, ok := simulator.Map.Get(vmRef).(*simulator.VirtualMachine)
	if !ok {
		return nil, fmt.Errorf("the imported VM %s does not exist", vmRef.Value)
	}
	lease := &importLease{HttpNfcLease: *stock, reg: r, token: newToken(), vm: vmRef}
	lease.Self = newLeaseRef()
	info := *stock.Info
	info.Lease = lease.Self
	info.LeaseTimeout = leaseTimeoutSecs
	info.DeviceUrl = nil
	lease.Info = &info
	lease.State = types.HttpNfcLeaseStateReady
	lease.InitializeProgress = 100

	var name string
	var devices object.VirtualDeviceList
	simulator.Map.WithLock(vm, func() {
		name = vm.Name
		devices = append(devices, vm.Config.Hardware.Device...)
	})
	var total int64
	for n, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		file := diskFile(disk)
		path, err := datastorePath(file)
		if err != nil {
			return nil, err
		}
		id := &importDisk{
			deviceKey: diskKey(vmRef, devices, disk),
			importKey: fmt.Sprintf("/%s/disk:%d", name, n),
			name:      filepath.Base(path),
			file:      file,
			path:      path,
			capacity:  diskCapacity(disk),
			disk:      disk,
		}
		lease.disks = append(lease.disks, id)
		total += (id.capacity + 1023) / 1024
		// The host is "*", as vCenter sends it: the client uses the address (and port) it reached vCenter by.
		info.DeviceUrl = append(info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:           id.deviceKey,
			ImportKey:     id.importKey,
			Url:           fmt.Sprintf("https://*/nfc/%s/%s", lease.token, url.PathEscape(id.name)),
			SslThumbprint: r.lab.sslThumbprint,
			Disk:          types.NewBool(true),
			TargetId:      id.name,
		})
	}
	info.TotalDiskCapacityInKB = total
	simulator.Map.Put(lease)
	r.leases.add(lease.token, lease)
	return lease, nil
}

func (l *importLease) HttpNfcLeaseProgress(ctx *simulator.Context, req *types.HttpNfcLeaseProgress) soap.HasFault {
	if f := progressFault(&l.HttpNfcLease, req.Percent); f != nil {
		return &methods.HttpNfcLeaseProgressBody{Fault_: f}
	}
	l.TransferProgress = req.Percent
	return &methods.HttpNfcLeaseProgressBody{Res: new(types.HttpNfcLeaseProgressResponse)}
}

// HttpNfcLeaseComplete ends the import: the VM's disks now read what was uploaded (a disk never uploaded reads as
// zeros). An upload still running is refused, as its disk would be half-written.
func (l *importLease) HttpNfcLeaseComplete(ctx *simulator.Context, req *types.HttpNfcLeaseComplete) soap.HasFault {
	if f := leaseFault(&l.HttpNfcLease); f != nil {
		return &methods.HttpNfcLeaseCompleteBody{Fault_: f}
	}
	if l.State != types.HttpNfcLeaseStateReady {
		return &methods.HttpNfcLeaseCompleteBody{Fault_: soapFault(fmt.Sprintf("The import lease is %s.", l.State), &types.InvalidState{})}
	}
	for _, d := range l.disks {
		d.mu.Lock()
		busy := d.uploading
		d.mu.Unlock()
		if busy {
			return &methods.HttpNfcLeaseCompleteBody{Fault_: soapFault(
				fmt.Sprintf("The upload of %s is still in progress; complete the lease after it ends, or abort it.", d.name), &types.InvalidState{})}
		}
	}
	l.reg.leases.revoke(l.token)
	for _, d := range l.disks {
		if err := l.reg.lab.disks.setImported(l.vm, d.disk, d.path); err != nil {
			return &methods.HttpNfcLeaseCompleteBody{Fault_: soapFault(err.Error(), &types.RuntimeFault{})}
		}
	}
	l.State = types.HttpNfcLeaseStateDone
	return &methods.HttpNfcLeaseCompleteBody{Res: new(types.HttpNfcLeaseCompleteResponse)}
}

// HttpNfcLeaseAbort ends the import without a VM: the half-made VM and its files are removed.
func (l *importLease) HttpNfcLeaseAbort(ctx *simulator.Context, req *types.HttpNfcLeaseAbort) soap.HasFault {
	if l.State == types.HttpNfcLeaseStateDone {
		return &methods.HttpNfcLeaseAbortBody{Fault_: soapFault("The import lease is already complete.", &types.InvalidState{})}
	}
	l.reg.leases.revoke(l.token)
	l.State = types.HttpNfcLeaseStateError
	msg := "Operation aborted by the client."
	if req.Fault != nil {
		msg = req.Fault.LocalizedMessage
	}
	l.Error = &types.LocalizedMethodFault{Fault: &types.RequestCanceled{}, LocalizedMessage: msg}
	if vm, ok := simulator.Map.Get(l.vm).(*simulator.VirtualMachine); ok {
		var state types.VirtualMachinePowerState
		simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
		if state == types.VirtualMachinePowerStatePoweredOff {
			// As the simulator dispatches Destroy_Task: with the VM locked; its task runs to the end here.
			simulator.Map.WithLock(vm, func() { vm.DestroyTask(ctx, &types.Destroy_Task{This: l.vm}) })
		}
	}
	return &methods.HttpNfcLeaseAbortBody{Res: new(types.HttpNfcLeaseAbortResponse)}
}
