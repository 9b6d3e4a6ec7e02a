package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-run/drover/internal/domain"
	"github.com/drover-run/drover/internal/store"
)

var keyTests = []test{
	{"InsertGetByIDAndHash", testKeyInsertGet},
	{"InsertDuplicateHash", testKeyInsertDuplicate},
	{"ListSkipsRevokedUnlessAsked", testKeyList},
	{"RevokeKeepsFirstTime", testKeyRevoke},
	{"RotateOverlapsThenExpires", testKeyRotate},
	{"RotateRevokedConflicts", testKeyRotateRevoked},
	{"ConsumeCountsUses", testKeyConsume},
	{"ConsumeConcurrentLastUse", testKeyConsumeRace},
	{"SignatureReplayRefused", testSignatureRemember},
	{"SignatureConcurrentOneFresh", testSignatureRace},
	{"SignatureForgetExpired", testSignatureForget},
}

func newKey(id string, opts ...func(*store.Key)) *store.Key {
	k := &store.Key{
		ID: id, Name: "name-" + id, Kind: store.KeyKindAPI, Scopes: []string{"read", "write"},
		Hash: "hash-" + id, CreatedAt: start,
	}
	for _, o := range opts {
		o(k)
	}
	return k
}

func (b *bundle) insertKey(t *testing.T, k *store.Key) *store.Key {
	t.Helper()
	if err := b.s.KeyInsert(b.ctx, k); err != nil {
		t.Fatalf("KeyInsert(%s) error = %v", k.ID, err)
	}
	return k
}

func testKeyInsertGet(t *testing.T, b *bundle) {
	want := b.insertKey(t, newKey("k1", func(k *store.Key) {
		k.SealedSecret = []byte{1, 2, 3}
		k.ExpiresAt = start.Add(time.Hour)
		k.Limits = store.KeyLimits{Reads: 5, Writes: 6, Streams: 7}
		k.Scopes = []string{"exec:shell", "write"}
	}))
	got, err := b.s.KeyGet(b.ctx, "k1")
	if err != nil {
		t.Fatalf("KeyGet() error = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeyGet() mismatch (-want +got):\n%s", diff)
	}
	got, err = b.s.KeyGetByHash(b.ctx, "hash-k1")
	if err != nil {
		t.Fatalf("KeyGetByHash() error = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeyGetByHash() mismatch (-want +got):\n%s", diff)
	}
	if !got.Signed() {
		t.Errorf("Signed() = false for a key with a sealed secret")
	}
	if _, err := b.s.KeyGetByHash(b.ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KeyGetByHash(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := b.s.KeyGet(b.ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KeyGet(unknown) error = %v, want ErrNotFound", err)
	}
}

func testKeyInsertDuplicate(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("k1"))
	err := b.s.KeyInsert(b.ctx, newKey("k2", func(k *store.Key) { k.Hash = "hash-k1" }))
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyInsert(same hash) error = %v, want ErrConflict", err)
	}
	err = b.s.KeyInsert(b.ctx, newKey("k1", func(k *store.Key) { k.Hash = "other" }))
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyInsert(same id) error = %v, want ErrConflict", err)
	}
}

func testKeyList(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("k1"))
	b.insertKey(t, newKey("k2", func(k *store.Key) { k.CreatedAt = start.Add(time.Second); k.Kind = store.KeyKindJoin }))
	b.insertKey(t, newKey("k3", func(k *store.Key) { k.CreatedAt = start.Add(2 * time.Second) }))
	if _, err := b.s.KeyRevoke(b.ctx, &store.KeyRevokeParams{ID: "k3", Now: start}); err != nil {
		t.Fatalf("KeyRevoke() error = %v", err)
	}
	for _, tc := range []struct {
		p    store.KeyListParams
		want []string
	}{
		{store.KeyListParams{}, []string{"k1", "k2"}},
		{store.KeyListParams{IncludeRevoked: true}, []string{"k1", "k2", "k3"}},
		{store.KeyListParams{Kind: store.KeyKindJoin}, []string{"k2"}},
		{store.KeyListParams{Kind: store.KeyKindAPI, IncludeRevoked: true}, []string{"k1", "k3"}},
	} {
		keys, err := b.s.KeyList(b.ctx, &tc.p)
		if err != nil {
			t.Fatalf("KeyList(%+v) error = %v", tc.p, err)
		}
		var got []string
		for _, k := range keys {
			got = append(got, k.ID)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("KeyList(%+v) ids (-want +got):\n%s", tc.p, diff)
		}
	}
}

func testKeyRevoke(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("k1"))
	k, err := b.s.KeyRevoke(b.ctx, &store.KeyRevokeParams{ID: "k1", Now: start.Add(time.Minute)})
	if err != nil {
		t.Fatalf("KeyRevoke() error = %v", err)
	}
	if !k.RevokedAt.Equal(start.Add(time.Minute)) || k.Usable(start.Add(time.Minute)) {
		t.Errorf("KeyRevoke() RevokedAt = %v, usable = %v; want %v, false", k.RevokedAt, k.Usable(start.Add(time.Minute)), start.Add(time.Minute))
	}
	k, err = b.s.KeyRevoke(b.ctx, &store.KeyRevokeParams{ID: "k1", Now: start.Add(time.Hour)})
	if err != nil {
		t.Fatalf("KeyRevoke(again) error = %v", err)
	}
	if !k.RevokedAt.Equal(start.Add(time.Minute)) {
		t.Errorf("KeyRevoke(again) RevokedAt = %v, want the first %v", k.RevokedAt, start.Add(time.Minute))
	}
	if _, err := b.s.KeyRevoke(b.ctx, &store.KeyRevokeParams{ID: "nope", Now: start}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KeyRevoke(unknown) error = %v, want ErrNotFound", err)
	}
}

func testKeyRotate(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("k1"))
	grace := start.Add(time.Hour)
	old, err := b.s.KeyRotate(b.ctx, &store.KeyRotateParams{ID: "k1", New: newKey("k2"), OldExpiresAt: grace, Now: start})
	if err != nil {
		t.Fatalf("KeyRotate() error = %v", err)
	}
	if !old.ExpiresAt.Equal(grace) || old.RotatedTo != "k2" {
		t.Errorf("KeyRotate() old ExpiresAt, RotatedTo = %v, %q; want %v, k2", old.ExpiresAt, old.RotatedTo, grace)
	}
	if !old.Usable(grace.Add(-time.Microsecond)) || old.Usable(grace) {
		t.Errorf("old key usable before grace end / at it: %v / %v, want true / false",
			old.Usable(grace.Add(-time.Microsecond)), old.Usable(grace))
	}
	if _, err := b.s.KeyGet(b.ctx, "k2"); err != nil {
		t.Errorf("KeyGet(new) error = %v", err)
	}
	// Rotating again with a later grace keeps the sooner expiry.
	old, err = b.s.KeyRotate(b.ctx, &store.KeyRotateParams{ID: "k1", New: newKey("k3"), OldExpiresAt: grace.Add(time.Hour), Now: start})
	if err != nil {
		t.Fatalf("KeyRotate(again) error = %v", err)
	}
	if !old.ExpiresAt.Equal(grace) {
		t.Errorf("KeyRotate(again) ExpiresAt = %v, want the sooner %v", old.ExpiresAt, grace)
	}
	// After the grace, the old key can no longer be rotated.
	_, err = b.s.KeyRotate(b.ctx, &store.KeyRotateParams{ID: "k1", New: newKey("k4"), OldExpiresAt: grace.Add(2 * time.Hour), Now: grace})
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyRotate(expired) error = %v, want ErrConflict", err)
	}
	if _, err := b.s.KeyGet(b.ctx, "k4"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a refused rotation inserted its new key: KeyGet error = %v, want ErrNotFound", err)
	}
	_, err = b.s.KeyRotate(b.ctx, &store.KeyRotateParams{ID: "nope", New: newKey("k5"), OldExpiresAt: grace, Now: start})
	if !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KeyRotate(unknown) error = %v, want ErrNotFound", err)
	}
}

func testKeyRotateRevoked(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("k1"))
	if _, err := b.s.KeyRevoke(b.ctx, &store.KeyRevokeParams{ID: "k1", Now: start}); err != nil {
		t.Fatalf("KeyRevoke() error = %v", err)
	}
	_, err := b.s.KeyRotate(b.ctx, &store.KeyRotateParams{ID: "k1", New: newKey("k2"), OldExpiresAt: start.Add(time.Hour), Now: start})
	if !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyRotate(revoked) error = %v, want ErrConflict", err)
	}
}

func testKeyConsume(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("j1", func(k *store.Key) {
		k.Kind, k.MaxUses, k.ExpiresAt, k.Pool = store.KeyKindJoin, 2, start.Add(time.Hour), "gpu"
	}))
	for i := 1; i <= 2; i++ {
		k, err := b.s.KeyConsume(b.ctx, &store.KeyConsumeParams{ID: "j1", Now: start})
		if err != nil {
			t.Fatalf("KeyConsume(#%d) error = %v", i, err)
		}
		if k.Uses != i || k.Pool != "gpu" {
			t.Errorf("KeyConsume(#%d) Uses, Pool = %d, %q; want %d, gpu", i, k.Uses, k.Pool, i)
		}
	}
	if _, err := b.s.KeyConsume(b.ctx, &store.KeyConsumeParams{ID: "j1", Now: start}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyConsume(used up) error = %v, want ErrConflict", err)
	}
	b.insertKey(t, newKey("j2", func(k *store.Key) { k.Kind, k.ExpiresAt = store.KeyKindJoin, start.Add(time.Hour) }))
	if _, err := b.s.KeyConsume(b.ctx, &store.KeyConsumeParams{ID: "j2", Now: start.Add(time.Hour)}); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("KeyConsume(expired) error = %v, want ErrConflict", err)
	}
	if _, err := b.s.KeyConsume(b.ctx, &store.KeyConsumeParams{ID: "nope", Now: start}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("KeyConsume(unknown) error = %v, want ErrNotFound", err)
	}
}

func testKeyConsumeRace(t *testing.T, b *bundle) {
	b.insertKey(t, newKey("j1", func(k *store.Key) { k.Kind, k.MaxUses = store.KeyKindJoin, 1 }))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = b.s.KeyConsume(b.ctx, &store.KeyConsumeParams{ID: "j1", Now: start}) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, domain.ErrConflict):
			t.Errorf("KeyConsume() error = %v, want nil or ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent KeyConsume() calls succeeded on a one-use token, want 1", ok, n)
	}
}

func testSignatureRemember(t *testing.T, b *bundle) {
	remember := func(key, sig string, now time.Time) bool {
		t.Helper()
		fresh, err := b.s.SignatureRemember(b.ctx, &store.SignatureRememberParams{
			KeyID: key, Signature: sig, ExpiresAt: start.Add(10 * time.Minute), Now: now,
		})
		if err != nil {
			t.Fatalf("SignatureRemember() error = %v", err)
		}
		return fresh
	}
	if !remember("k1", "s1", start) {
		t.Errorf("first SignatureRemember() fresh = false, want true")
	}
	if remember("k1", "s1", start.Add(time.Minute)) {
		t.Errorf("replayed SignatureRemember() fresh = true, want false")
	}
	if !remember("k2", "s1", start) {
		t.Errorf("same signature, other key: fresh = false, want true")
	}
	// Once expired, the slot may be taken again (the timestamp check
	// refuses such a replay before it gets here).
	if !remember("k1", "s1", start.Add(10*time.Minute)) {
		t.Errorf("SignatureRemember() after expiry fresh = false, want true")
	}
}

func testSignatureRace(t *testing.T, b *bundle) {
	const n = 16
	var wg sync.WaitGroup
	fresh := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			var err error
			fresh[i], err = b.s.SignatureRemember(b.ctx, &store.SignatureRememberParams{
				KeyID: "k1", Signature: "sig", ExpiresAt: start.Add(time.Minute), Now: start,
			})
			if err != nil {
				t.Errorf("SignatureRemember() error = %v", err)
			}
		})
	}
	wg.Wait()
	got := 0
	for _, f := range fresh {
		if f {
			got++
		}
	}
	if got != 1 {
		t.Errorf("%d of %d concurrent SignatureRemember() calls were fresh, want 1", got, n)
	}
}

func testSignatureForget(t *testing.T, b *bundle) {
	for i, exp := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		_, err := b.s.SignatureRemember(b.ctx, &store.SignatureRememberParams{
			KeyID: "k", Signature: string(rune('a' + i)), ExpiresAt: start.Add(exp), Now: start,
		})
		if err != nil {
			t.Fatalf("SignatureRemember() error = %v", err)
		}
	}
	n, err := b.s.SignatureForget(b.ctx, &store.SignatureForgetParams{Before: start.Add(150 * time.Second)})
	if err != nil {
		t.Fatalf("SignatureForget() error = %v", err)
	}
	if n != 2 {
		t.Errorf("SignatureForget() = %d, want 2", n)
	}
	fresh, err := b.s.SignatureRemember(b.ctx, &store.SignatureRememberParams{
		KeyID: "k", Signature: "c", ExpiresAt: start.Add(time.Hour), Now: start,
	})
	if err != nil || fresh {
		t.Errorf("the unexpired signature was forgotten: fresh = %v, err = %v", fresh, err)
	}
}
