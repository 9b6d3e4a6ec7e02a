package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/drover-run/drover/internal/domain"
)

type poolRow struct {
	*domain.Pool
	Live, Draining int // its workers online and draining
}

func (d *Dashboard) pools(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	ps, err := d.opts.Pools.List(ctx)
	if err != nil {
		return err
	}
	// Each pool's workers, counted from the one (cached) worker list
	// rather than one read per pool.
	ws, err := cachedAs[[]*domain.Worker](d, ctx, "workers ", func(ctx context.Context) (any, error) { return d.opts.Engine.Workers(ctx, "") })
	if err != nil {
		return err
	}
	live, draining := map[int64]int{}, map[int64]int{}
	for _, wk := range ws {
		switch wk.State {
		case domain.WorkerOnline:
			live[wk.PoolID]++
		case domain.WorkerDraining:
			draining[wk.PoolID]++
		}
	}
	rows := make([]poolRow, len(ps))
	for i, p := range ps {
		rows[i] = poolRow{Pool: p, Live: live[p.ID], Draining: draining[p.ID]}
	}
	return d.render(w, r, "pools", v, rows)
}

// poolEventsShown bounds the scaling history a pool's page reads.
const poolEventsShown = 500

type poolData struct {
	Pool    *domain.Pool
	Workers []*domain.Worker
	Events  []*domain.PoolEvent // newest first, at most 50 listed
	Chart   chart
	More    int // events charted but not listed
}

func (d *Dashboard) pool(w http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx := r.Context()
	id, err := idPath(r)
	if err != nil {
		return err
	}
	p, err := d.opts.Pools.Get(ctx, id)
	if err != nil {
		return err
	}
	ws, err := d.opts.Pools.Workers(ctx, id)
	if err != nil {
		return err
	}
	evs, err := d.opts.Pools.Events(ctx, id, poolEventsShown)
	if err != nil {
		return err
	}
	slices.SortStableFunc(ws, func(a, b *domain.Worker) int { return cmp.Compare(a.ID, b.ID) })
	pd := poolData{Pool: p, Workers: ws, Events: evs, Chart: sizeChart(p, evs, d.opts.Engine.Now())}
	if len(evs) > 50 {
		pd.Events, pd.More = evs[:50], len(evs)-50
	}
	return d.render(w, r, "pool", v, pd)
}

// sizeChart plots a pool's desired size over time from its scaling events
// (newest first), as steps: each change is a vertical edge at its time,
// and the line runs on to now.
func sizeChart(p *domain.Pool, evs []*domain.PoolEvent, now time.Time) chart {
	c := chart{X: []int64{}, Series: []chartLine{{Label: "desired workers", Y: []float64{}}}}
	add := func(t time.Time, y int) {
		c.X = append(c.X, t.Unix())
		c.Series[0].Y = append(c.Series[0].Y, float64(y))
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		add(e.At, e.From)
		add(e.At, e.To)
	}
	if len(evs) == 0 {
		add(p.CreatedAt, p.Points)
	}
	if end := time.Unix(c.X[len(c.X)-1], 0); now.Before(end) {
		now = end
	}
	add(now, p.Points)
	return c
}
