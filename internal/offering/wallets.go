package offering

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/offering/internal/store"
)

// Owners may link Lightning wallets to an offering and then sign in with
// them (LNURL-auth, LUD-04) instead of the manage key. A challenge is a k1
// the wallet signs, and a binding the browser that shows it keeps in a
// cookie: the k1 is public (anyone who sees the QR code reads it), the
// binding is not, so only that browser can finish. Only hashes of both
// are stored.

// AuthAction is what a challenge is for.
type AuthAction string

const (
	AuthLogin AuthAction = "login"
	AuthLink  AuthAction = "link"
)

// ChallengeTTL is how long a wallet has to sign a challenge, and the
// browser to finish after: a sign-in takes a minute.
const ChallengeTTL = 5 * time.Minute

// Challenge is a new challenge: K1 goes in the LNURL a wallet scans,
// Binding stays with the browser that shows it.
type Challenge struct {
	K1, Binding string
}

// NewChallenge returns a challenge for a wallet to sign: to sign in
// (offeringID nil) or to link a wallet to the offering.
func (s *Service) NewChallenge(ctx context.Context, action AuthAction, offeringID *int64) (Challenge, error) {
	if (action == AuthLink) != (offeringID != nil) {
		return Challenge{}, errors.New("offering: a link challenge needs an offering, a login challenge none")
	}
	k1, err := lnurl.NewK1(s.rand)
	if err != nil {
		return Challenge{}, err
	}
	binding, err := lnurl.NewK1(s.rand)
	if err != nil {
		return Challenge{}, err
	}
	now := s.Now()
	c := store.Challenge{K1Hash: lnurl.K1Hash(k1), BindingHash: lnurl.K1Hash(binding), Action: string(action), OfferingID: offeringID,
		CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	if err := store.CreateChallenge(ctx, s.db, &c); err != nil {
		return Challenge{}, err
	}
	return Challenge{K1: k1, Binding: binding}, nil
}

// challenge checks that a challenge found by its k1 or its binding (by,
// given the hash of either) exists and has not expired.
func (s *Service) challenge(ctx context.Context, by func(context.Context, db.Conn, string) (store.Challenge, error), secret string) (store.Challenge, error) {
	c, err := by(ctx, s.db, lnurl.K1Hash(secret))
	if errors.Is(err, db.ErrNotFound) {
		return c, apperr.New(apperr.NotFound, "Unknown or expired challenge.")
	}
	if err != nil {
		return c, err
	}
	if !s.Now().Before(c.ExpiresAt) {
		return c, apperr.New(apperr.Conflict, "This challenge has expired; reload the page for a new one.")
	}
	return c, nil
}

// WalletSigned handles the wallet's callback: the signature over k1 must
// verify for key. A link challenge links the key to its offering at once;
// a login challenge needs a key that some offering has linked.
func (s *Service) WalletSigned(ctx context.Context, k1, sig, key string) error {
	if err := lnurl.VerifyAuth(k1, sig, key); err != nil {
		return err
	}
	c, err := s.challenge(ctx, store.ChallengeByK1Hash, k1)
	if err != nil {
		return err
	}
	if c.UsedAt != nil || c.SignedAt != nil {
		return apperr.New(apperr.Conflict, "This challenge has already been used.")
	}
	key = strings.ToLower(key)
	now := s.Now()
	switch AuthAction(c.Action) {
	case AuthLink:
		if err := store.LinkWallet(ctx, s.db, store.WalletKey{OfferingID: *c.OfferingID, LinkingKey: key, CreatedAt: now}); err != nil {
			return err
		}
	case AuthLogin:
		linked, err := store.WalletLinked(ctx, s.db, key)
		if err != nil {
			return err
		}
		if !linked {
			return apperr.New(apperr.Unauthorized, "This wallet is not linked to any offering. Sign in with the manage key and link it from the dashboard first.")
		}
	}
	signed, err := store.MarkSigned(ctx, s.db, c.ID, key, now)
	if err != nil {
		return err
	}
	if !signed {
		return apperr.New(apperr.Conflict, "This challenge has already been used.")
	}
	return nil
}

// ChallengeSigned reports whether the wallet has signed the challenge
// bound to binding yet (the browser polls it).
func (s *Service) ChallengeSigned(ctx context.Context, binding string) (bool, error) {
	c, err := s.challenge(ctx, store.ChallengeByBindingHash, binding)
	if err != nil {
		return false, err
	}
	return c.SignedAt != nil && c.UsedAt == nil, nil
}

// CompleteLogin spends a signed login challenge, once, and returns the
// offerings its wallet may manage. The browser that showed the challenge
// holds its binding; the wallet proved the key: both are needed.
func (s *Service) CompleteLogin(ctx context.Context, binding string) ([]Offering, error) {
	c, err := s.challenge(ctx, store.ChallengeByBindingHash, binding)
	if err != nil {
		return nil, err
	}
	if AuthAction(c.Action) != AuthLogin || c.SignedAt == nil || c.LinkingKey == nil {
		return nil, apperr.New(apperr.Unauthorized, "Approve the sign-in in your wallet first.")
	}
	used, err := store.MarkUsed(ctx, s.db, c.ID, s.Now())
	if err != nil {
		return nil, err
	}
	if !used {
		return nil, apperr.New(apperr.Conflict, "This sign-in has already been used.")
	}
	return store.ByWalletKey(ctx, s.db, *c.LinkingKey)
}

// LinkedKeys returns the wallet keys linked to an offering.
func (s *Service) LinkedKeys(ctx context.Context, offeringID int64) ([]string, error) {
	return store.LinkedKeys(ctx, s.db, offeringID)
}
