package main

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/vmware/govmomi/vim25/types"
)

// The data side of an import lease (import.go has the lease): its URLs take a stream-optimized VMDK upload and
// decode it into the disk's flat file on the datastore.

// serve answers PUT/POST /nfc/<token>/<disk> for live import leases; false means "not ours".
func (r *importRegistry) serve(w http.ResponseWriter, req *http.Request) bool {
	lease, file, ok := r.leases.find(req.URL.Path)
	if !ok {
		return false
	}
	var disk *importDisk
	for _, d := range lease.disks {
		if d.name == file {
			disk = d
		}
	}
	if disk == nil {
		http.NotFound(w, req)
		return true
	}
	if req.Method != http.MethodPut && req.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		http.Error(w, "import URLs accept uploads only (PUT or POST a stream-optimized VMDK)", http.StatusMethodNotAllowed)
		return true
	}
	if lease.State != types.HttpNfcLeaseStateReady {
		http.Error(w, fmt.Sprintf("the import lease is %s", lease.State), http.StatusConflict)
		return true
	}
	disk.mu.Lock()
	if disk.uploading {
		disk.mu.Unlock()
		http.Error(w, "this disk is being uploaded by another request", http.StatusConflict)
		return true
	}
	disk.uploading, disk.done, disk.received = true, false, 0
	disk.mu.Unlock()

	counted := &countingReader{r: req.Body}
	err := receiveStreamVMDK(counted, disk.path, disk.capacity)
	disk.mu.Lock()
	disk.uploading, disk.received, disk.done = false, counted.n, err == nil
	disk.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	w.WriteHeader(http.StatusOK)
	return true
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// receiveStreamVMDK decodes a stream-optimized VMDK into a sparse flat file of the disk's capacity.
func receiveStreamVMDK(body io.Reader, path string, capacity int64) error {
	in := bufio.NewReaderSize(body, 1<<20)
	h := make([]byte, sectorSize)
	if _, err := io.ReadFull(in, h); err != nil {
		return fmt.Errorf("the upload ended inside the VMDK header: %v", err)
	}
	le := binary.LittleEndian
	if string(h[0:4]) != "KDMV" {
		return errors.New("the upload is not a VMDK (no KDMV magic); upload the disk as a stream-optimized VMDK")
	}
	flags := le.Uint32(h[8:])
	if flags&0x30000 != 0x30000 || le.Uint16(h[77:]) != 1 {
		return errors.New("the VMDK is not stream-optimized (compressed grains with markers); convert it, e.g. qemu-img convert -O vmdk -o subformat=streamOptimized")
	}
	vcap := int64(le.Uint64(h[12:])) * sectorSize
	grain := int64(le.Uint64(h[20:])) * sectorSize
	overhead := int64(le.Uint64(h[64:]))
	if vcap > capacity {
		return fmt.Errorf("the VMDK's capacity (%d bytes) is larger than the disk it is imported into (%d bytes)", vcap, capacity)
	}
	if grain <= 0 || grain > 1<<24 || overhead < 1 {
		return errors.New("the VMDK header has an invalid grain size or overhead")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create the disk file: %v", err)
	}
	defer f.Close()
	if err := f.Truncate(capacity); err != nil {
		return fmt.Errorf("cannot size the disk file: %v", err)
	}
	if _, err := io.CopyN(io.Discard, in, (overhead-1)*sectorSize); err != nil {
		return fmt.Errorf("the upload ended inside the VMDK header: %v", err)
	}
	raw := make([]byte, grain)
	marker := make([]byte, 12)
	for {
		if _, err := io.ReadFull(in, marker); err != nil {
			if err == io.EOF {
				return nil // qemu-img ends after its last grain (its grain directory is at the front)
			}
			return fmt.Errorf("the upload ended inside a grain marker: %v", err)
		}
		val := le.Uint64(marker[0:])
		size := int64(le.Uint32(marker[8:]))
		if size > 0 {
			lim := &io.LimitedReader{R: in, N: size}
			zr, err := zlib.NewReader(lim)
			if err != nil {
				return fmt.Errorf("the grain at sector %d is not zlib data: %v", val, err)
			}
			n, err := io.ReadFull(zr, raw)
			if err != nil && err != io.ErrUnexpectedEOF {
				return fmt.Errorf("the grain at sector %d does not inflate: %v", val, err)
			}
			off := int64(val) * sectorSize
			if off+int64(n) > vcap {
				return fmt.Errorf("the grain at sector %d lies beyond the VMDK's capacity", val)
			}
			if _, err := f.WriteAt(raw[:n], off); err != nil {
				return fmt.Errorf("cannot write the disk file: %v", err)
			}
			if _, err := io.Copy(io.Discard, lim); err != nil {
				return fmt.Errorf("the upload ended inside the grain at sector %d: %v", val, err)
			}
			if lim.N > 0 {
				return fmt.Errorf("the upload ended inside the grain at sector %d", val)
			}
			if pad := (sectorSize - (12+size)%sectorSize) % sectorSize; pad > 0 {
				if _, err := io.CopyN(io.Discard, in, pad); err != nil {
					return fmt.Errorf("the upload ended inside a grain record: %v", err)
				}
			}
			continue
		}
		rest := make([]byte, sectorSize-12)
		if _, err := io.ReadFull(in, rest); err != nil {
			return fmt.Errorf("the upload ended inside a marker: %v", err)
		}
		switch le.Uint32(rest[0:]) {
		case markerEOS:
			return nil
		case markerGT, markerGD, markerFooter:
			if _, err := io.CopyN(io.Discard, in, int64(val)*sectorSize); err != nil {
				return fmt.Errorf("the upload ended inside VMDK metadata: %v", err)
			}
		default:
			return fmt.Errorf("unknown VMDK marker type %d", le.Uint32(rest[0:]))
		}
	}
}
