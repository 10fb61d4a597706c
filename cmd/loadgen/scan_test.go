package main

import (
	"slices"
	"testing"
)

func TestScanFrame(t *testing.T) {
	ids := map[string]int{"a": 3, "c": 11, "d": 10}
	cases := []struct {
		frame string
		want  frameInfo
	}{
		{`[{"type":"snapshot","pos":7,"epoch":"e1","audience":"public","wall":{"posts":[{"id":"a","author":{"name":"x"}},{"id":"b"}],"pos":7}}]`,
			frameInfo{lastType: "snapshot", lastPos: 7, epoch: "e1", seqs: []int{3}}},
		{`[{"type":"event","pos":8,"wall":{"upsert":[{"id":"d","html":"<p>{\"id\":\"a\"</p>"}]}},{"type":"event","pos":12,"wall":{"upsert":[{"id":"c"}]}}]`,
			frameInfo{lastType: "event", lastPos: 12, seqs: []int{10, 11}}},
		{`[{"type":"resume","pos":5,"epoch":"e2"}]`, frameInfo{lastType: "resume", lastPos: 5, epoch: "e2"}},
	}
	for _, tc := range cases {
		var fi frameInfo
		scanFrame([]byte(tc.frame), ids, &fi)
		if fi.lastType != tc.want.lastType || fi.lastPos != tc.want.lastPos || fi.epoch != tc.want.epoch || !slices.Equal(fi.seqs, tc.want.seqs) {
			t.Errorf("scan %s\n got %+v\nwant %+v", tc.frame, fi, tc.want)
		}
	}
}
