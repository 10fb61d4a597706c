package itest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/rehearsal"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/moderation"
)

// BenchmarkRedisMemoryPerPost measures what an event costs Redis: b.N
// rehearsal posts (real corpus sizes: several languages, media, content
// warnings) appended through the same sink the sources use, then Redis's
// used_memory and the append-only file's size divided by the posts. For
// sizing (docs/OPERATIONS.md), run with a fixed count:
//
//	go test -run '^$' -bench RedisMemory -benchtime 20000x ./itest
func BenchmarkRedisMemoryPerPost(b *testing.B) {
	rs := redistest.Start(b)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	store, err := redislog.Open(ctx, rs.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	log, err := store.Log(ctx, "memory")
	if err != nil {
		b.Fatal(err)
	}
	before := usedMemory(b, rdb)
	rules := &moderation.Rules{Mode: event.ModeAuto}
	rules.Compile()
	sink := ingest.NewLogSink(log, rules, nil, event.Actor{Role: event.RoleSource, Name: rehearsal.Kind}, nil)
	src := rehearsal.New(rehearsal.Config{Tags: []string{"Leaders4Leeds"}, Rate: 60})
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if _, err := sink.Post(ctx, src.Post(uint64(i+1), now)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := rdb.Do(ctx, "BGREWRITEAOF").Err(); err != nil && !strings.Contains(err.Error(), "already in progress") {
		b.Fatal(err)
	}
	after := usedMemory(b, rdb)
	// The rewritten AOF is what a restart replays: wait for the rewrite.
	deadline := time.Now().Add(30 * time.Second)
	for info(b, rdb, "aof_rewrite_in_progress") != "0" || info(b, rdb, "aof_rewrite_scheduled") != "0" {
		if time.Now().After(deadline) {
			b.Fatal("AOF rewrite did not finish within 30s")
		}
		<-time.After(50 * time.Millisecond)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "redis-bytes/post")
	b.ReportMetric(float64(dirSize(b, filepath.Join(rs.Dir, "appendonlydir")))/float64(b.N), "aof-bytes/post")
}

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	n, err := strconv.ParseInt(info(b, rdb, "used_memory"), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// info returns one field of Redis's INFO.
func info(b *testing.B, rdb *redis.Client, field string) string {
	s, err := rdb.Info(context.Background()).Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	b.Fatalf("INFO has no %s", field)
	return ""
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
