package lnurl

import (
	"fmt"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
)

// WithdrawParams is the first LNURL-withdraw answer (LUD-03). K1 identifies
// the withdrawal: whoever presents it with an invoice gets paid, so it must
// be unguessable and single-use.
type WithdrawParams struct {
	Tag                string     `json:"tag"`
	Callback           string     `json:"callback"`
	K1                 string     `json:"k1"`
	DefaultDescription string     `json:"defaultDescription"`
	MinWithdrawable    money.Msat `json:"minWithdrawable"`
	MaxWithdrawable    money.Msat `json:"maxWithdrawable"`
}

// Validate checks what both the service and a withdrawing wallet rely on.
func (p WithdrawParams) Validate() error {
	if p.Tag != TagWithdrawRequest {
		return apperr.New(apperr.Invalid, "The LNURL is not a withdraw request (tag %q).", truncate(p.Tag, 32))
	}
	if err := checkTransport(p.Callback); err != nil {
		return fmt.Errorf("lnurl: withdraw callback: %w", err)
	}
	if p.K1 == "" {
		return apperr.New(apperr.Invalid, "The withdraw request has no k1.")
	}
	if p.MinWithdrawable < 0 || p.MinWithdrawable > p.MaxWithdrawable || !p.MaxWithdrawable.Valid() {
		return apperr.New(apperr.Invalid, "The withdraw request's amount range [%d, %d] msat is not valid.", p.MinWithdrawable, p.MaxWithdrawable)
	}
	return nil
}
