package fold

// PostsIn returns the posts (not deleted at their source) in state st, in
// receipt order, for the moderators' lists of approved and rejected posts
// (GET /api/events/{slug}/posts). It copies every such post: callers sort
// and page the copy outside the state's lock.
func (s *State) PostsIn(st PostState) []PostView {
	return s.postsIn(st)
}
