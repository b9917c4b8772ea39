package demo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lightning/demo/internal/store"
)

// storeTimeout bounds each write of an invoice; the demo node's callers
// are people pressing buttons.
const storeTimeout = 5 * time.Second

// toRow is the stored form of an invoice, fromRow the way back.
func toRow(inv *invoice) store.Invoice {
	row := store.Invoice{
		PaymentHash:    inv.PaymentHash.String(),
		Preimage:       hex.EncodeToString(inv.preimage[:]),
		PaymentRequest: inv.PaymentRequest,
		AmountMsat:     inv.AmountMsat,
		PaidMsat:       inv.PaidMsat,
		State:          inv.State,
		AddIndex:       inv.AddIndex,
		SettleIndex:    inv.SettleIndex,
		CreatedAt:      inv.CreatedAt.UTC(),
		ExpiresAt:      inv.ExpiresAt.UTC(),
	}
	if !inv.SettledAt.IsZero() {
		at := inv.SettledAt.UTC()
		row.SettledAt = &at
	}
	return row
}

func fromRow(row store.Invoice) (*invoice, error) {
	hash, err := decodeHash(row.PaymentHash)
	if err != nil {
		return nil, fmt.Errorf("demo: stored invoice hash %q: %w", row.PaymentHash, err)
	}
	preimage, err := decodeHash(row.Preimage)
	if err != nil {
		return nil, fmt.Errorf("demo: stored invoice %s preimage: %w", row.PaymentHash, err)
	}
	inv := &invoice{
		Invoice: lightning.Invoice{
			PaymentHash:    hash,
			PaymentRequest: row.PaymentRequest,
			AmountMsat:     row.AmountMsat,
			PaidMsat:       row.PaidMsat,
			State:          row.State,
			CreatedAt:      row.CreatedAt,
			ExpiresAt:      row.ExpiresAt,
			AddIndex:       row.AddIndex,
			SettleIndex:    row.SettleIndex,
		},
		preimage: preimage,
	}
	if row.SettledAt != nil {
		inv.SettledAt = *row.SettledAt
	}
	return inv, nil
}

func decodeHash(s string) (lightning.Hash, error) {
	var h lightning.Hash
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, err
	}
	if len(b) != len(h) {
		return h, errors.New("not 32 bytes")
	}
	copy(h[:], b)
	return h, nil
}

// Open returns a node that keeps its invoices in database, so that an
// invoice made before a restart can still be paid after it: the invoices
// stored there are loaded, and the add and settle indexes continue from
// the highest stored one (or from WithIndexBase's, if higher). Outgoing
// payments stay in memory.
func Open(ctx context.Context, database *db.DB, opts ...Option) (*Node, error) {
	n := New(opts...)
	rows, err := store.Invoices(ctx, database)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		inv, err := fromRow(row)
		if err != nil {
			return nil, err
		}
		n.invoices[inv.PaymentHash] = inv
		n.addIndex = max(n.addIndex, inv.AddIndex)
		if inv.State != lightning.InvoiceSettled {
			continue
		}
		n.settleIndex = max(n.settleIndex, inv.SettleIndex)
		if inv.SettleIndex > n.settleBase {
			// Settled but perhaps not yet credited by the site: replayed
			// to a subscriber that resumes below it.
			n.settled = append(n.settled, inv.PaymentHash)
		}
	}
	sort.Slice(n.settled, func(i, j int) bool {
		return n.invoices[n.settled[i]].SettleIndex < n.invoices[n.settled[j]].SettleIndex
	})
	n.db = database
	return n, nil
}

// save writes an invoice's row (insert or update), when the node keeps
// its invoices in a database. n.mu must be held.
func (n *Node) save(ctx context.Context, inv *invoice) error {
	if n.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return store.Save(ctx, n.db, toRow(inv))
}
