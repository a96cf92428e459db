// Command vcsim-lab is the lab vCenter: govmomi's simulator with the lab inventory, users and privileges
// from lab/inventory.json, plus VM export (NFC leases serving generated stream-optimized VMDKs),
// OvfManager.CreateDescriptor and ExtensionManager.
package main

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type readyLine struct {
	SdkURL           string `json:"sdkUrl"`
	CertPem          string `json:"certPem"`
	ThumbprintSha1   string `json:"thumbprintSha1"`
	ThumbprintSha256 string `json:"thumbprintSha256"`
	InstanceUUID     string `json:"instanceUuid"`
	APIVersion       string `json:"apiVersion"`
}

func main() {
	configPath := flag.String("config", "lab/inventory.json", "lab inventory file (users, roles, permissions, VMs)")
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve HTTPS on (port 0 = random)")
	instanceUUID := flag.String("instance-uuid", "", "vCenter instanceUuid (random when empty)")
	trace := flag.Bool("trace", false, "dump SOAP traffic to stderr")
	stdinWatch := flag.Bool("exit-on-stdin-eof", false, "shut down when stdin closes (the parent process went away)")
	control := flag.Bool("control-stdin", false, "read fault-injection commands as JSON lines on stdin (see inject.go)")
	apiVersion := flag.String("api-version", "", "play this vSphere API release (e.g. 8.0.1.0): About reports it, and requests are read with its schema (unknown elements and newer SOAPAction releases are refused, as vCenter does); default 7.0.3.0 with lenient decoding")
	flag.Parse()

	// If the parent dies, stderr becomes a broken pipe: a log line must not kill us before cleanup.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	log.SetFlags(log.LstdFlags)
	log.SetPrefix("vcsim-lab: ")

	cfg, err := loadConfig(*configPath)
	if err != nil {
		fatal(err)
	}
	if *instanceUUID == "" {
		*instanceUUID = uuid.New().String()
	}
	simulator.Trace = *trace
	simulator.SessionIdleTimeout = 0

	m := simulator.VPX()
	m.Datacenter, m.Cluster, m.ClusterHost, m.Host = 1, 1, 3, 0
	m.Machine, m.Datastore, m.Portgroup, m.Pool = 0, 1, 1, 0
	m.Autostart = false
	about := &m.ServiceContent.About
	about.Name = "VMware VirtualCenter"
	about.FullName = "VMware vCenter Server 7.0.3 build-19234570"
	about.Version = "7.0.3"
	about.Build = "19234570"
	about.ApiVersion = "7.0.3.0"
	about.LicenseProductVersion = "7.0"
	about.InstanceUuid = *instanceUUID
	if *apiVersion != "" {
		v, ok := parseVersion(*apiVersion)
		if !ok || len(v) < 3 {
			fatal(fmt.Errorf("-api-version %q is not a vSphere API release such as 8.0.1.0", *apiVersion))
		}
		product := fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
		about.ApiVersion = *apiVersion
		about.Version = product
		about.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", product, about.Build)
		about.LicenseProductVersion = fmt.Sprintf("%d.%d", v[0], v[1])
	}

	if err := m.Create(); err != nil {
		fatal(fmt.Errorf("create the simulator model: %w", err))
	}
	cleanup := func() {
		m.Remove()
		if os.Getenv("VCSIM_LAB_OWN_TMPDIR") == "1" {
			_ = os.Remove(os.TempDir()) // the launcher's private TMPDIR, once empty
		}
	}

	lab, err := newLab(m, cfg)
	if err != nil {
		cleanup()
		fatal(err)
	}
	lab.apiVersion = *apiVersion

	m.Service.Listen = &url.URL{Host: *listen}
	labCert, err := labCertificate()
	if err != nil {
		cleanup()
		fatal(err)
	}
	m.Service.TLS = &tls.Config{Certificates: []tls.Certificate{labCert}}
	server, err := startServer(m.Service)
	if err != nil {
		cleanup()
		fatal(err)
	}
	cert := server.Certificate()
	lab.attach(server)

	sha1sum := sha1.Sum(cert.Raw)
	sha256sum := sha256.Sum256(cert.Raw)
	line, _ := json.Marshal(readyLine{
		SdkURL:           lab.baseURL + "/sdk",
		CertPem:          string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		ThumbprintSha1:   colonHex(sha1sum[:]),
		ThumbprintSha256: colonHex(sha256sum[:]),
		InstanceUUID:     *instanceUUID,
		APIVersion:       about.ApiVersion,
	})
	out := bufio.NewWriter(os.Stdout)
	_, _ = out.Write(append(line, '\n'))
	_ = out.Flush()

	done := make(chan string, 2)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() { done <- (<-sigs).String() }()
	if *stdinWatch || *control {
		go func() {
			if *control {
				serveControl(os.Stdin, out, lab.inj, lab.exports)
			} else {
				_, _ = io.Copy(io.Discard, os.Stdin)
			}
			if *stdinWatch {
				done <- "stdin closed"
			}
		}()
	}
	reason := <-done
	log.Printf("shutting down (%s)", reason)

	// Downloads of big disks may be in flight: drop connections rather than wait for them.
	server.CloseClientConnections()
	closed := make(chan struct{})
	go func() { server.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
	}
	cleanup()
}

// startServer turns the simulator's panic on a busy port into an error.
func startServer(s *simulator.Service) (server *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot listen on %s: %v (choose another -listen address)", s.Listen.Host, r)
		}
	}()
	return s.NewServer(), nil
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "vcsim-lab: %v\n", err)
	os.Exit(1)
}

var rootFolderRef = types.ManagedObjectReference{Type: "Folder", Value: "group-d1"}
