package graphemu

// IssuedTokens returns every access token the managed-identity endpoint has
// issued and still remembers, so tests can assert that none reached a log.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for tok := range s.tokens {
		out = append(out, tok)
	}
	return out
}
