package main

import "time"

// presenceTTL is how long a post a moderator opened counts as open
// without being opened again (wall.StaffOptions.PresenceTTL's default).
const presenceTTL = 30 * time.Second
