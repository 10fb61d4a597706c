package fold

// AllPosts returns every post in the views (pending, approved and
// rejected; not deleted, not the rehearsal once live), oldest received
// first, for the export of every post.
func (s *State) AllPosts() []PostView {
	out := make([]PostView, 0, len(s.order))
	for _, p := range s.order {
		if !p.deleted {
			out = append(out, p.v)
		}
	}
	return out
}
