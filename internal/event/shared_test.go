package event_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/event"
	"github.com/drover-run/drover/internal/store/postgres"
)

// TestBusesSharePostgres runs two buses, as two servers would, on one
// PostgreSQL schema. Each delivers its own batches from memory when they
// follow what it delivered, and reads the others' from the store: both
// rings must end up holding every event once (from the one last written
// when the bus started), in id order, without gaps.
func TestBusesSharePostgres(t *testing.T) {
	url := os.Getenv("DROVER_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DROVER_TEST_POSTGRES_URL is not set; in CI the PostgreSQL tests must run (source .ci/postgres.sh)")
		}
		t.Skip("DROVER_TEST_POSTGRES_URL is not set; run .ci/postgres.sh to start a local PostgreSQL")
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "drover_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	var buses []*event.Bus
	done := make(chan struct{})
	for _, origin := range []string{"a", "b"} {
		st, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		b := event.New(event.Options{Store: st, Origin: origin, FlushInterval: 5 * time.Millisecond})
		buses = append(buses, b)
		go func() {
			b.Run(ctx)
			done <- struct{}{}
		}()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	const rounds, each = 6, 5
	deadline := time.After(30 * time.Second)
	// waitFor waits until bus i delivered the events up to id n, and returns
	// its ring: from its start (the last id when the bus started) on.
	waitFor := func(i int, n int64) []event.Frame {
		t.Helper()
		for {
			frames, changed, ok := buses[i].Read(buses[i].Base(), 1000)
			if !ok {
				t.Fatalf("bus %d: Read(Base()) not served from the ring", i)
			}
			if buses[i].Last() >= n {
				return frames
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("bus %d delivered up to id %d of %d after 30 s", i, buses[i].Last(), n)
			}
		}
	}
	for r := range rounds {
		// Alternate writers; each writes once its previous round is
		// delivered to it, while the other bus may still be behind, so
		// both the memory and the store way run.
		b := buses[r%2]
		for i := range each {
			b.Publish(domain.Event{Type: domain.EventTaskStarted, Level: domain.LevelInfo, Message: fmt.Sprint(r, "-", i)})
		}
		waitFor(r%2, int64((r+1)*each))
	}
	want := int64(rounds * each)
	for i := range buses {
		frames := waitFor(i, want)
		base := buses[i].Base()
		if int64(len(frames)) != want-base {
			t.Fatalf("bus %d holds %d events after id %d, want %d", i, len(frames), base, want-base)
		}
		for j, f := range frames {
			if f.ID != base+int64(j+1) {
				t.Fatalf("bus %d: frame %d has id %d, want %d (in order, no gaps)", i, j, f.ID, base+int64(j+1))
			}
		}
	}
}
