package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

// A backup taken while tasks are being inserted holds every task whose
// insert was acknowledged before the backup began, and restores into a
// database a server opens.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "drover.db"), Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var (
		acked    sync.Map // id -> the insert's acknowledgement sequence
		seq      atomic.Int64
		target   atomic.Int64 // when seq reaches it, reached gets a signal
		reached  = make(chan struct{}, 1)
		stop     = make(chan struct{})
		writers  sync.WaitGroup
		inserted = time.Now()
	)
	target.Store(300)
	for w := range 4 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("task-w%d-%06d", w, i)
				_, err := s.TaskInsertMany(ctx, &store.TaskInsertManyParams{Tasks: []*domain.Task{{
					ID: id, Type: "echo", Payload: []byte(`{}`), Priority: domain.PriorityNormal, Queue: domain.DefaultQueue,
					TimeoutSeconds: 60, State: domain.TaskPending, CreatedAt: inserted, AvailableAt: inserted,
				}}})
				if err != nil {
					t.Error(err)
					return
				}
				n := seq.Add(1)
				acked.Store(id, n)
				if n == target.Load() {
					reached <- struct{}{}
				}
			}
		})
	}
	// Let the load build up, then back up in the middle of it.
	<-reached
	before := seq.Load() // every id acked with a sequence <= before was committed before Backup began
	dest := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, &store.BackupParams{Dest: dest}); err != nil {
		t.Fatal(err)
	}
	// And keep writing after it, to show the copy is of one moment.
	if target.Store(before + 300); seq.Load() < before+300 {
		<-reached
	}
	close(stop)
	writers.Wait()
	if err := s.Backup(ctx, &store.BackupParams{Dest: dest}); err == nil {
		t.Error("Backup over an existing file succeeded")
	}

	// Restore is refused while the store (a server) holds the file.
	if err := Restore(ctx, dest, filepath.Join(dir, "drover.db")); err == nil {
		t.Error("Restore while the database is open succeeded")
	}
	restored := filepath.Join(t.TempDir(), "drover.db")
	if err := Restore(ctx, dest, restored); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, restored, Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	missing, inCopy := 0, 0
	acked.Range(func(k, v any) bool {
		_, err := r.TaskGet(ctx, k.(string))
		switch {
		case err == nil:
			inCopy++
		case v.(int64) <= before:
			missing++
			t.Errorf("task %s, acknowledged before the backup, is not in it: %v", k, err)
		}
		return missing < 5
	})
	if inCopy < int(before) {
		t.Errorf("the copy holds %d tasks, want at least %d", inCopy, before)
	}
	t.Logf("acknowledged before the backup: %d; in the copy: %d; acknowledged in all: %d", before, inCopy, seq.Load())
}
