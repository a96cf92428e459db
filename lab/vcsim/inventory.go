package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	labDatastore      = "LocalDS_0"
	labDatastoreBytes = int64(8) << 40 // advertised capacity, so that big lab disks fit
)

// diskSeed identifies the generated content of one virtual disk (see inventory.json "diskContent").
type diskSeed struct {
	capacityBytes int64
	seed          int64
}

// buildInventory turns the stock VPX model (1 DC, 1 cluster of 3 hosts, 1 datastore, 1 DVS, no VMs)
// into the configured inventory, through the simulator's own API (an in-process vim25 client).
func buildInventory(m *simulator.Model, cfg *Config) (map[string]diskSeed, error) {
	ctx := context.Background()
	c, err := vim25.NewClient(ctx, m.Service)
	if err != nil {
		return nil, err
	}

	dcs := simulator.Map.All("Datacenter")
	if len(dcs) != 1 {
		return nil, fmt.Errorf("expected one datacenter in the model, found %d", len(dcs))
	}
	dcObj := dcs[0].(*simulator.Datacenter)
	dcObj.Name = cfg.Datacenter
	dc := object.NewDatacenter(c, dcObj.Self)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}

	// Realistic ESXi host names instead of DC0_C0_H0...
	var hosts []*simulator.HostSystem
	for _, e := range simulator.Map.All("HostSystem") {
		hosts = append(hosts, e.(*simulator.HostSystem))
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	for i, h := range hosts {
		h.Name = fmt.Sprintf("esx-%02d.lab.local", i+1)
		if i == len(hosts)-1 {
			// Seeded problem (seed troubleshooting): a host added to vCenter by its short name, which the
			// connector can resolve only with a DNS suffix search list.
			h.Name = fmt.Sprintf("esx-%02d", i+1)
		}
		h.Summary.Config.Name = h.Name
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("the model has no hosts")
	}

	var cluster *simulator.ClusterComputeResource
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		cluster = e.(*simulator.ClusterComputeResource)
	}
	if cluster == nil || cluster.ResourcePool == nil {
		return nil, fmt.Errorf("the model has no cluster")
	}
	pool := object.NewResourcePool(c, *cluster.ResourcePool)

	ds, ok := simulator.Map.FindByName(labDatastore, dcObj.Datastore).(*simulator.Datastore)
	if !ok {
		return nil, fmt.Errorf("the model has no datastore %s", labDatastore)
	}

	var nicBacking types.BaseVirtualDeviceBackingInfo
	for _, e := range simulator.Map.All("DistributedVirtualPortgroup") {
		pg := e.(*simulator.DistributedVirtualPortgroup)
		if strings.Contains(pg.Name, "DVUplinks") {
			// vCenter marks a switch's uplink port group (config.uplink); stock vcsim does not.
			pg.Config.Uplink = types.NewBool(true)
			continue
		}
		if nicBacking != nil {
			continue
		}
		nicBacking, err = object.NewDistributedVirtualPortgroup(c, pg.Self).EthernetCardBackingInfo(ctx)
		if err != nil {
			return nil, err
		}
	}
	if nicBacking == nil {
		return nil, fmt.Errorf("the model has no VM portgroup")
	}

	vmFolders := map[string]*object.Folder{"": folders.VmFolder}
	for _, name := range cfg.Folders {
		f, err := folders.VmFolder.CreateFolder(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("create folder %s: %w", name, err)
		}
		vmFolders[name] = f
	}

	seeds := map[string]diskSeed{}
	var used int64
	for i, spec := range cfg.VMs {
		host := hosts[i%len(hosts)]
		ref, err := createVM(ctx, c, vmFolders[spec.Folder], pool, host, ds.Self, nicBacking, spec, seeds)
		if err != nil {
			return nil, fmt.Errorf("create VM %s: %w", spec.Name, err)
		}
		vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		for _, d := range spec.Disks {
			used += d.CapacityMiB << 20
		}
		setGuest(vm, spec)
	}

	ds.Summary.Capacity = labDatastoreBytes
	ds.Summary.FreeSpace = labDatastoreBytes - used
	info := ds.Info.GetDatastoreInfo()
	info.FreeSpace = ds.Summary.FreeSpace
	info.MaxFileSize = labDatastoreBytes

	return seeds, nil
}

func createVM(ctx context.Context, c *vim25.Client, folder *object.Folder, pool *object.ResourcePool, host *simulator.HostSystem,
	ds types.ManagedObjectReference, nicBacking types.BaseVirtualDeviceBackingInfo, spec ConfigVM, seeds map[string]diskSeed) (types.ManagedObjectReference, error) {
	var none types.ManagedObjectReference
	config := types.VirtualMachineConfigSpec{
		Name:              spec.Name,
		GuestId:           spec.GuestID,
		NumCPUs:           spec.NumCPU,
		NumCoresPerSocket: 1,
		MemoryMB:          spec.MemoryMB,
		Files:             &types.VirtualMachineFileInfo{VmPathName: "[" + labDatastore + "]"},
	}

	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return none, err
	}
	devices = append(devices, scsi)
	for n, d := range spec.Disks {
		file := fmt.Sprintf("[%s] %s/%s.vmdk", labDatastore, spec.Name, spec.Name)
		if n > 0 {
			file = fmt.Sprintf("[%s] %s/%s_%d.vmdk", labDatastore, spec.Name, spec.Name, n)
		}
		disk := devices.CreateDisk(scsi.(types.BaseVirtualController), ds, file)
		disk.CapacityInKB = d.CapacityMiB << 10
		disk.CapacityInBytes = d.CapacityMiB << 20
		devices = append(devices, disk)
		seeds[file] = diskSeed{capacityBytes: disk.CapacityInBytes, seed: d.Seed}
	}
	nic, err := devices.CreateEthernetCard("vmxnet3", nicBacking)
	if err != nil {
		return none, err
	}
	devices = append(devices, nic)
	config.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return none, err
	}

	hostRef := host.Self
	task, err := folder.CreateVM(ctx, config, pool, object.NewHostSystem(c, hostRef))
	if err != nil {
		return none, err
	}
	res, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return none, err
	}
	ref := res.Result.(types.ManagedObjectReference)
	vm := object.NewVirtualMachine(c, ref)

	switch spec.PowerState {
	case "poweredOn", "suspended":
		if err := waitTask(ctx, vm.PowerOn); err != nil {
			return none, err
		}
		if spec.PowerState == "suspended" {
			if err := waitTask(ctx, vm.Suspend); err != nil {
				return none, err
			}
		}
	}
	return ref, nil
}

func waitTask(ctx context.Context, f func(context.Context) (*object.Task, error)) error {
	task, err := f(ctx)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

// setGuest fills the guest identity everywhere vCenter reports it (stock copies guestId into guestFullName).
func setGuest(vm *simulator.VirtualMachine, spec ConfigVM) {
	family := "linuxGuest"
	switch {
	case strings.HasPrefix(spec.GuestID, "windows") || strings.HasPrefix(spec.GuestID, "win"):
		family = "windowsGuest"
	case strings.HasPrefix(spec.GuestID, "freebsd") || strings.HasPrefix(spec.GuestID, "other"):
		family = "otherGuestFamily"
	}
	vm.Config.GuestId = spec.GuestID
	vm.Config.GuestFullName = spec.GuestFullName
	vm.Summary.Config.GuestId = spec.GuestID
	vm.Summary.Config.GuestFullName = spec.GuestFullName
	if vm.Guest == nil {
		vm.Guest = &types.GuestInfo{}
	}
	vm.Guest.GuestId = spec.GuestID
	vm.Guest.GuestFullName = spec.GuestFullName
	vm.Guest.GuestFamily = family
	if vm.Summary.Guest == nil {
		vm.Summary.Guest = &types.VirtualMachineGuestSummary{}
	}
	vm.Summary.Guest.GuestId = spec.GuestID
	vm.Summary.Guest.GuestFullName = spec.GuestFullName
}

// entityParent returns the inventory parent of an entity (nil at the root folder or for unknown objects).
func entityParent(ref types.ManagedObjectReference) *types.ManagedObjectReference {
	obj := simulator.Map.Get(ref)
	if obj == nil {
		return nil
	}
	if snap, ok := obj.(*simulator.VirtualMachineSnapshot); ok {
		vm := snap.Vm
		return &vm
	}
	e, ok := obj.(mo.Entity)
	if !ok {
		return nil
	}
	return e.Entity().Parent
}

// findEntity resolves a permission entity name from the config to a managed object reference.
func findEntity(entity string, rootFolder types.ManagedObjectReference) (types.ManagedObjectReference, error) {
	if entity == "root" {
		return rootFolder, nil
	}
	kind, name, _ := strings.Cut(entity, ":")
	typ := map[string]string{"folder": "Folder", "vm": "VirtualMachine", "datacenter": "Datacenter", "datastore": "Datastore"}[kind]
	var found []types.ManagedObjectReference
	for _, e := range simulator.Map.All(typ) {
		if e.Entity().Name == name {
			found = append(found, e.Reference())
		}
	}
	if len(found) != 1 {
		return types.ManagedObjectReference{}, fmt.Errorf("permission entity %q matches %d objects; it must match exactly one", entity, len(found))
	}
	return found[0], nil
}
