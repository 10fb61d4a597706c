module github.com/backchannel/backchannel/cmd/wsprobe

go 1.24

require github.com/coder/websocket v1.8.15
