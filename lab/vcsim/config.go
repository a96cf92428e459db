package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Config is the lab inventory file (lab/inventory.json): datacenter, VM folders, users, roles, permissions and VMs.
type Config struct {
	Datacenter  string             `json:"datacenter"`
	Folders     []string           `json:"folders"`
	Users       []ConfigUser       `json:"users"`
	Roles       []ConfigRole       `json:"roles"`
	Permissions []ConfigPermission `json:"permissions"`
	VMs         []ConfigVM         `json:"vms"`
}

type ConfigUser struct {
	Name        string `json:"name"`
	Password    string `json:"password"`
	Description string `json:"description"`
}

type ConfigRole struct {
	Name       string   `json:"name"`
	Privileges []string `json:"privileges"`
}

// ConfigPermission.Entity is "root" (root folder), "folder:<Name>" (a VM folder), "vm:<Name>", "datacenter:<Name>" or "datastore:<Name>".
type ConfigPermission struct {
	Entity    string `json:"entity"`
	Principal string `json:"principal"`
	Role      string `json:"role"`
	Propagate bool   `json:"propagate"`
}

type ConfigVM struct {
	Name          string       `json:"name"`
	Folder        string       `json:"folder"`
	GuestID       string       `json:"guestId"`
	GuestFullName string       `json:"guestFullName"`
	PowerState    string       `json:"powerState"`
	NumCPU        int32        `json:"numCpu"`
	MemoryMB      int64        `json:"memoryMB"`
	Disks         []ConfigDisk `json:"disks"`
}

type ConfigDisk struct {
	CapacityMiB int64 `json:"capacityMiB"`
	Seed        int64 `json:"seed"`
}

func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the lab inventory %s: %w (pass -config <path to inventory.json>)", path, err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("the lab inventory %s is not valid JSON: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("the lab inventory %s is invalid: %w", path, err)
	}
	return &cfg, nil
}

func (c *Config) validate() error {
	if c.Datacenter == "" {
		c.Datacenter = "DC0"
	}
	folders := map[string]bool{}
	for _, f := range c.Folders {
		if f == "" || strings.ContainsAny(f, "/%") {
			return fmt.Errorf("folder name %q is empty or contains '/' or '%%'", f)
		}
		if folders[f] {
			return fmt.Errorf("folder %q is listed twice", f)
		}
		folders[f] = true
	}
	users := map[string]bool{}
	for _, u := range c.Users {
		if u.Name == "" || u.Password == "" {
			return fmt.Errorf("every user needs a non-empty name and password (user %q)", u.Name)
		}
		users[strings.ToLower(u.Name)] = true
	}
	roles := map[string]bool{"Admin": true, "ReadOnly": true, "View": true, "Anonymous": true, "NoAccess": true, "NoCryptoAdmin": true}
	for _, r := range c.Roles {
		if r.Name == "" || roles[r.Name] {
			return fmt.Errorf("role name %q is empty or already used by a system or earlier role", r.Name)
		}
		roles[r.Name] = true
	}
	for _, p := range c.Permissions {
		if !roles[p.Role] {
			return fmt.Errorf("permission for %q names the unknown role %q", p.Principal, p.Role)
		}
		if !users[strings.ToLower(p.Principal)] {
			return fmt.Errorf("permission names the unknown user %q (add it to \"users\")", p.Principal)
		}
		kind, name, _ := strings.Cut(p.Entity, ":")
		switch {
		case p.Entity == "root":
		case kind == "folder" && folders[name]:
		case kind == "vm" || kind == "datacenter" || kind == "datastore":
		default:
			return fmt.Errorf("permission entity %q must be \"root\", \"folder:<one of folders>\", \"vm:<name>\", \"datacenter:<name>\" or \"datastore:<name>\"", p.Entity)
		}
	}
	vms := map[string]bool{}
	for i := range c.VMs {
		vm := &c.VMs[i]
		if vm.Name == "" || vms[vm.Name] {
			return fmt.Errorf("VM name %q is empty or listed twice", vm.Name)
		}
		vms[vm.Name] = true
		if vm.Folder != "" && !folders[vm.Folder] {
			return fmt.Errorf("VM %q is in the unknown folder %q (add it to \"folders\")", vm.Name, vm.Folder)
		}
		switch vm.PowerState {
		case "":
			vm.PowerState = "poweredOff"
		case "poweredOn", "poweredOff", "suspended":
		default:
			return fmt.Errorf("VM %q has powerState %q; use poweredOn, poweredOff or suspended", vm.Name, vm.PowerState)
		}
		if vm.GuestID == "" {
			vm.GuestID = "otherGuest64"
		}
		if vm.GuestFullName == "" {
			vm.GuestFullName = vm.GuestID
		}
		if vm.NumCPU <= 0 {
			vm.NumCPU = 1
		}
		if vm.MemoryMB <= 0 {
			vm.MemoryMB = 1024
		}
		for _, d := range vm.Disks {
			if d.CapacityMiB <= 0 {
				return fmt.Errorf("VM %q has a disk with capacityMiB %d; it must be positive", vm.Name, d.CapacityMiB)
			}
		}
	}
	return nil
}

// password returns the configured password of a user (user names compare case-insensitively, as in vCenter).
func (c *Config) password(user string) (string, bool) {
	for _, u := range c.Users {
		if strings.EqualFold(u.Name, user) {
			return u.Password, true
		}
	}
	return "", false
}
