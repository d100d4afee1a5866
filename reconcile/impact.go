package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/flowapi"
)

// Dataflow is a dataflow (Flow Service /flows) that reads a base connection through one of
// the connection's source connections.
type Dataflow struct {
	ID    string
	Name  string
	State string // enabled or disabled
	// LastRun is the state of its last run ("success", "failed", …), "" when it never ran;
	// LastRunAt when that run started (epoch ms, the service's clock; 0: unknown).
	LastRun   string
	LastRunAt int64
}

// Impact is what uses the connections a plan would delete or replace, as read from the
// service before anything is sent. The zero value is an impact not checked (an offline plan).
type Impact struct {
	Checked bool
	UsedBy  map[string][]Dataflow // base connection id -> the dataflows that read it, by name
}

// Dependents is what the impact check needs of the service: the source connections of base
// connections, and the dataflows that read source connections, each looked up in batches.
// *flowservice.Client satisfies it.
type Dependents interface {
	SourceConnections(ctx context.Context, baseIDs []string) ([]flowapi.SourceConnection, error)
	Flows(ctx context.Context, sourceIDs []string) ([]flowapi.Flow, error)
}

// LookupImpact reads what uses the connections ids: their source connections, then the
// dataflows that read those. Two lookups whatever the number of ids (each batched and paged
// by d); none for no ids.
func LookupImpact(ctx context.Context, d Dependents, ids []string) (Impact, error) {
	imp := Impact{Checked: true, UsedBy: map[string][]Dataflow{}}
	if len(ids) == 0 {
		return imp, nil
	}
	srcs, err := d.SourceConnections(ctx, ids)
	if err != nil {
		return Impact{}, fmt.Errorf("look up the source connections of %d connections: %w", len(ids), err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	baseOf := make(map[string]string, len(srcs))
	var srcIDs []string
	for _, s := range srcs {
		if want[s.BaseConnectionID] && s.ID != "" { // the answer is a claim: only what was asked
			baseOf[s.ID] = s.BaseConnectionID
			srcIDs = append(srcIDs, s.ID)
		}
	}
	if len(srcIDs) == 0 {
		return imp, nil
	}
	flows, err := d.Flows(ctx, srcIDs)
	if err != nil {
		return Impact{}, fmt.Errorf("look up the dataflows of %d source connections: %w", len(srcIDs), err)
	}
	for _, f := range flows {
		seen := map[string]bool{}
		for _, sid := range f.SourceConnectionIDs {
			base, ok := baseOf[sid]
			if !ok || seen[base] {
				continue
			}
			seen[base] = true
			imp.UsedBy[base] = append(imp.UsedBy[base], dataflowOf(f))
		}
	}
	for _, dfs := range imp.UsedBy {
		slices.SortFunc(dfs, func(a, b Dataflow) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	}
	return imp, nil
}

func dataflowOf(f flowapi.Flow) Dataflow {
	d := Dataflow{ID: f.ID, Name: f.Name, State: f.State}
	if r := f.LastRunDetails; r != nil {
		d.LastRun, d.LastRunAt = r.State, r.StartedAtUTC
	}
	return d
}

// AtRisk returns the ids of the connections cs would delete (a delete, the old connection of a
// replace, one an unfinished replace left that an update deletes), sorted and each once: what the impact check looks up.
func (c *Changeset) AtRisk() []string {
	var ids []string
	for i := range c.Changes {
		ids = append(ids, deletedBy(&c.Changes[i])...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// deletedBy is the ids a delete or replace deletes, and those an update deletes: the old
// connections an earlier replace left behind (Prior.Retired).
func deletedBy(ch *Change) []string {
	if ch.Prior == nil {
		return nil
	}
	if ch.Action == Update {
		return slices.Clone(ch.Prior.Retired)
	}
	if ch.Action != Delete && ch.Action != Replace {
		return nil
	}
	ids := slices.Clone(ch.Prior.Retired)
	if ch.Prior.ID != "" {
		ids = append(ids, ch.Prior.ID)
	}
	if ch.Action == Delete && ch.Resolved != "" {
		ids = append(ids, ch.Resolved)
	}
	return ids
}

// Block marks every delete, replace and update of cs that would delete a connection a dataflow
// uses (an update deletes what an unfinished replace left) as
// blocked (never attempted: no POST of the replacement, no DELETE), with the dataflows, and
// records that the impact was checked. It does nothing for an impact not checked. A change
// already blocked stays blocked (a saved plan's blocked change is never attempted).
func (c *Changeset) Block(imp Impact) {
	if !imp.Checked {
		return
	}
	c.ImpactChecked = true
	for i := range c.Changes {
		ch := &c.Changes[i]
		for _, id := range deletedBy(ch) {
			for _, df := range imp.UsedBy[id] {
				if !slices.ContainsFunc(ch.UsedBy, func(d Dataflow) bool { return d.ID == df.ID }) {
					ch.UsedBy = append(ch.UsedBy, df)
				}
			}
		}
		ch.Blocked = ch.Blocked || len(ch.UsedBy) > 0
	}
}

// BlockedError is the Result.Err of a delete or replace that was not attempted because
// dataflows use the connection it would delete.
type BlockedError struct {
	UsedBy []Dataflow
}

func (e *BlockedError) Error() string {
	names := make([]string, len(e.UsedBy))
	for i, d := range e.UsedBy {
		names[i] = d.Name
	}
	return fmt.Sprintf("blocked: used by %d dataflows (%s): not attempted", len(e.UsedBy), strings.Join(names, ", "))
}
