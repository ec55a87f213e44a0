// Package control is the local command socket between directord and
// directorctl: one JSON request per connection, one JSON answer.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"time"

	"github.com/lvsdirector/director/director"
)

// DefaultSocket is where directord listens.
const DefaultSocket = "/run/directord.sock"

// Request is a command: status, standby [all|local|foreign|failback],
// takeover [...]. Reply is set by the server side.
type Request struct {
	Cmd   string        `json:"cmd"`
	Arg   string        `json:"arg,omitempty"`
	Reply chan Response `json:"-"`
}

// Response answers a Request.
type Response struct {
	OK     bool    `json:"ok"`
	Text   string  `json:"text,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Status is what directorctl status shows.
type Status struct {
	Node      string                   `json:"node"`
	CommUp    bool                     `json:"comm_up"`
	Resources string                   `json:"resources"` // none, local, foreign, all, transition
	Nodes     []Node                   `json:"nodes"`
	Groups    []Group                  `json:"groups"`
	Virtuals  []director.VirtualStatus `json:"virtuals,omitempty"`
}

// Node is a cluster or ping node with its links.
type Node struct {
	Name  string            `json:"name"`
	State string            `json:"state"`
	Links map[string]string `json:"links,omitempty"`
}

// Group is a haresources group and whether this node holds it.
type Group struct {
	Key       string   `json:"key"`
	Held      bool     `json:"held"`
	Resources []string `json:"resources"`
}

// Serve accepts requests on a unix socket and hands them to the owner
// through requests; it returns when ctx is done.
func Serve(ctx context.Context, path string, requests chan<- Request) error {
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	os.Chmod(path, 0o600)
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				os.Remove(path)
				return nil
			}
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var req Request
			if err := json.NewDecoder(c).Decode(&req); err != nil {
				return
			}
			req.Reply = make(chan Response, 1)
			select {
			case requests <- req:
			case <-ctx.Done():
				return
			}
			select {
			case resp := <-req.Reply:
				json.NewEncoder(c).Encode(resp)
			case <-ctx.Done():
			}
		}(c)
	}
}

// Call sends one request and returns the answer.
func Call(path, cmd, arg string) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(Request{Cmd: cmd, Arg: arg}); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
