// Package scale is the pool engine: elastic groups of workers with a
// desired size (document 000's "task" and its "points"), the providers that
// make and remove their workers, the reconciliation that brings each pool to
// its size, and the autoscaling decision.
//
// # Membership
//
// A worker belongs to a pool by the pool id stored at its registration
// (Worker.PoolID): the provider starts it with `--pool-id N`, or with a
// join token bound to the pool. Labels play no part.
//
// # Reconciliation
//
// Reconcile works from stored state only, so a restart of the server (or a
// change of leader) loses nothing:
//
//	desired (pool.Points) ──┐
//	live workers of the pool ├─▶ too few:  Launch the difference (names pool<id>-<random>)
//	launches not registered ─┘   too many: drain the surplus, idle workers first
//
//	online ──drain──▶ draining ──its tasks end, it deregisters──▶ offline ──▶ provider.Remove
//	                      │ drain deadline passes: leases handed back (new epoch), worker told to stop them
//
// Invariants:
//   - Asking for the size a pool already has changes nothing and records no event.
//   - Every change of size is an event (who or what asked, from, to, when),
//     written in the same transaction as the change.
//   - A draining worker takes no new lease; a task it runs finishes or is
//     handed back at the drain deadline: scaling never loses a task.
//   - Launches not yet registered are counted against the desired size for
//     StartTimeout, so a slow start is not launched twice. They are held in
//     memory: after a restart a few may be launched again, and the surplus
//     is drained once they register.
//   - Live workers of a pool that no longer exists are drained.
package scale
