package main

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ovfManager adds CreateDescriptor to the simulator's OvfManager (embedded by value).
type ovfManager struct {
	simulator.OvfManager
	lab *lab
}

func installOvfManager(l *lab) {
	stock := simulator.Map.Get(*l.content.OvfManager).(*simulator.OvfManager)
	simulator.Map.Put(&ovfManager{OvfManager: *stock, lab: l})
}

// CIM operating system ids (DMTF CIM_OperatingSystem.OsType) for the lab's guests; 1 = "Other".
var cimOsType = map[string]int{
	"ubuntu64Guest": 94, "rhel8_64Guest": 80, "rhel7_64Guest": 80, "centos7_64Guest": 107, "centos64Guest": 107,
	"debian11_64Guest": 96, "debian10_64Guest": 96, "freebsd13_64Guest": 78, "freebsd64Guest": 78,
	"windows2019srv_64Guest": 112, "windows9Server64Guest": 112, "windows8Server64Guest": 112,
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (m *ovfManager) CreateDescriptor(ctx *simulator.Context, req *types.CreateDescriptor) soap.HasFault {
	body := &methods.CreateDescriptorBody{}
	vm, ok := simulator.Map.Get(req.Obj).(*simulator.VirtualMachine)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("CreateDescriptor supports virtual machines only; %s is not one", req.Obj), &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	if f := m.lab.policy.check(ctx, req.Obj, "VApp.Export"); f != nil {
		body.Fault_ = f
		return body
	}
	var desc string
	simulator.Map.WithLock(vm, func() { desc = m.envelope(vm, req.Cdp) })
	body.Res = &types.CreateDescriptorResponse{Returnval: types.OvfCreateDescriptorResult{OvfDescriptor: desc}}
	return body
}

func (m *ovfManager) envelope(vm *simulator.VirtualMachine, cdp types.OvfCreateDescriptorParams) string {
	name := cdp.Name
	if name == "" {
		name = vm.Name
	}
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	filesByDevice := map[string]types.OvfFile{}
	for _, f := range cdp.OvfFiles {
		filesByDevice[f.DeviceId] = f
	}

	var refs, disks, items, nets strings.Builder
	instance := 1
	item := func(fields ...string) int {
		id := instance
		instance++
		items.WriteString("      <Item>\n")
		for i := 0; i+1 < len(fields); i += 2 {
			fmt.Fprintf(&items, "        <rasd:%s>%s</rasd:%s>\n", fields[i], esc(fields[i+1]), fields[i])
		}
		fmt.Fprintf(&items, "        <rasd:InstanceID>%d</rasd:InstanceID>\n      </Item>\n", id)
		return id
	}

	item("AllocationUnits", "hertz * 10^6", "Description", "Number of Virtual CPUs",
		"ElementName", fmt.Sprintf("%d virtual CPU(s)", vm.Config.Hardware.NumCPU), "ResourceType", "3",
		"VirtualQuantity", fmt.Sprint(vm.Config.Hardware.NumCPU))
	item("AllocationUnits", "byte * 2^20", "Description", "Memory Size",
		"ElementName", fmt.Sprintf("%dMB of memory", vm.Config.Hardware.MemoryMB), "ResourceType", "4",
		"VirtualQuantity", fmt.Sprint(vm.Config.Hardware.MemoryMB))

	controllers := map[int32]int{}
	for _, d := range devices {
		var sub string
		switch d.(type) {
		case *types.ParaVirtualSCSIController:
			sub = "VirtualSCSI"
		case *types.VirtualLsiLogicController:
			sub = "lsilogic"
		case *types.VirtualLsiLogicSASController:
			sub = "lsilogicsas"
		case *types.VirtualBusLogicController:
			sub = "buslogic"
		default:
			continue
		}
		c := d.(types.BaseVirtualController).GetVirtualController()
		controllers[c.Key] = item("Address", fmt.Sprint(c.BusNumber), "Description", "SCSI Controller",
			"ElementName", fmt.Sprintf("SCSI controller %d", c.BusNumber), "ResourceSubType", sub, "ResourceType", "6")
	}

	for n, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		diskID := fmt.Sprintf("vmdisk%d", n+1)
		fileRef := ""
		if f, ok := filesByDevice[diskKey(vm.Self, devices, disk)]; ok {
			fileID := fmt.Sprintf("file%d", n+1)
			fmt.Fprintf(&refs, "    <File ovf:href=\"%s\" ovf:id=\"%s\" ovf:size=\"%d\"/>\n", esc(f.Path), fileID, f.Size)
			fileRef = fmt.Sprintf(" ovf:fileRef=\"%s\"", fileID)
		}
		capacity := diskCapacity(disk)
		fmt.Fprintf(&disks, "    <Disk ovf:capacity=\"%d\" ovf:capacityAllocationUnits=\"byte\" ovf:diskId=\"%s\"%s ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\" ovf:populatedSize=\"%d\"/>\n",
			capacity, diskID, fileRef, capacity)
		unit := int32(0)
		if disk.UnitNumber != nil {
			unit = *disk.UnitNumber
		}
		parent := controllers[disk.ControllerKey]
		item("AddressOnParent", fmt.Sprint(unit), "ElementName", fmt.Sprintf("Hard disk %d", n+1),
			"HostResource", "ovf:/disk/"+diskID, "Parent", fmt.Sprint(parent), "ResourceType", "17")
	}

	seenNet := map[string]bool{}
	nics := devices.Select(func(d types.BaseVirtualDevice) bool {
		_, ok := d.(types.BaseVirtualEthernetCard)
		return ok
	})
	for n, d := range nics {
		netName := networkName(d)
		if !seenNet[netName] {
			seenNet[netName] = true
			fmt.Fprintf(&nets, "    <Network ovf:name=\"%s\">\n      <Description>The %s network</Description>\n    </Network>\n", esc(netName), esc(netName))
		}
		sub := strings.TrimPrefix(fmt.Sprintf("%T", d), "*types.Virtual")
		item("AddressOnParent", fmt.Sprint(7+n), "AutomaticAllocation", "true", "Connection", netName,
			"ElementName", fmt.Sprintf("Network adapter %d", n+1), "ResourceSubType", sub, "ResourceType", "10")
	}

	osID, ok := cimOsType[vm.Config.GuestId]
	if !ok {
		osID = 1
	}
	hwVersion := vm.Config.Version
	if hwVersion == "" {
		hwVersion = "vmx-13"
	}

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-19234570" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
`)
	b.WriteString(refs.String())
	b.WriteString("  </References>\n  <DiskSection>\n    <Info>Virtual disk information</Info>\n")
	b.WriteString(disks.String())
	b.WriteString("  </DiskSection>\n  <NetworkSection>\n    <Info>The list of logical networks</Info>\n")
	b.WriteString(nets.String())
	b.WriteString("  </NetworkSection>\n")
	fmt.Fprintf(&b, "  <VirtualSystem ovf:id=\"%s\">\n    <Info>A virtual machine</Info>\n    <Name>%s</Name>\n", esc(name), esc(name))
	if cdp.Description != "" {
		fmt.Fprintf(&b, "    <AnnotationSection>\n      <Info>A human-readable annotation</Info>\n      <Annotation>%s</Annotation>\n    </AnnotationSection>\n", esc(cdp.Description))
	}
	fmt.Fprintf(&b, "    <OperatingSystemSection ovf:id=\"%d\" vmw:osType=\"%s\">\n      <Info>The kind of installed guest operating system</Info>\n      <Description>%s</Description>\n    </OperatingSystemSection>\n",
		osID, esc(vm.Config.GuestId), esc(vm.Config.GuestFullName))
	fmt.Fprintf(&b, "    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements</Info>\n      <System>\n        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n        <vssd:InstanceID>0</vssd:InstanceID>\n        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>\n        <vssd:VirtualSystemType>%s</vssd:VirtualSystemType>\n      </System>\n",
		esc(name), esc(hwVersion))
	b.WriteString(items.String())
	b.WriteString("    </VirtualHardwareSection>\n  </VirtualSystem>\n</Envelope>\n")
	return b.String()
}

func networkName(d types.BaseVirtualDevice) string {
	switch b := d.GetVirtualDevice().Backing.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		ref := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
		if pg, ok := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup); ok {
			return pg.Name
		}
	}
	return "VM Network"
}
