// Package workflow is the engine of workflows: named DAGs of steps, run on
// demand, on a cron schedule or after other workflows. It owns the rules
// (validation, advance, restart, kill, cron) and works over the store and
// the task engine (dispatch); HTTP packages call it with domain types.
//
// # States
//
// A run is waiting (for upstream workflows' runs of the same tick), running,
// completed, failed or killed. Each step of a run is an action: waiting (for
// its parents), then pending/running/completed/failed/cancelled as its task
// is, or upstream_failed when a parent did not complete. A run's state is
// derived from its actions' (DeriveState).
//
// # Invariants
//
//   - A step's task is created once per generation: its idempotency key is
//     "wf-action-<action id>-<generation>", so a pass repeated after a crash
//     between creating the task and recording it finds the same task.
//   - Runs advance only by reconciling stored state (Engine.Advance), run by
//     a leader maintenance service on a period and woken early when a task
//     ends; nothing depends on a post-commit hook having run.
//   - A restart bumps the generation of the actions it reruns; an update
//     decided on an older generation does not apply.
//   - A cron tick fires at most once: its fire record's primary key
//     (workflow, tick) is inserted in the transaction that inserts the run.
package workflow
