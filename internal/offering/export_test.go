package offering

// Consumption exposes the runway arithmetic to the package's tests, which
// replay the old per-minute accrual against the lazy one.
var Consumption = consumption

// StatusHeld tells whether a transaction holds slug's cached status.
func (s *Service) StatusHeld(slug string) bool {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.isHeld(slug)
}
