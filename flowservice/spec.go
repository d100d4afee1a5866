package flowservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// GetConnectionSpec reads connection spec id. The service answers {"items":[spec]}; Adobe's
// published example answers the object itself: both are read. A spec that does not exist is
// a *Error with Status 404.
func (c *Client) GetConnectionSpec(ctx context.Context, id string) (*ConnectionSpec, error) {
	if id == "" {
		return nil, errors.New("get connection spec: empty id")
	}
	r := &request{method: http.MethodGet, path: "/connectionSpecs/" + url.PathEscape(id)}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Items *[]ConnectionSpec `json:"items"`
		ConnectionSpec
	}
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		return nil, fmt.Errorf("get connection spec %s: decode answer: %w", id, err)
	}
	if answer.Items == nil {
		if answer.ID == "" {
			return nil, fmt.Errorf("get connection spec %s: the %d answer holds neither items nor a connection spec", id, resp.status)
		}
		if answer.ID != id {
			return nil, fmt.Errorf("get connection spec %s: the answer describes connection spec %s", id, answer.ID)
		}
		return &answer.ConnectionSpec, nil
	}
	for i := range *answer.Items {
		if (*answer.Items)[i].ID == id {
			return &(*answer.Items)[i], nil
		}
	}
	return nil, &Error{Method: r.method, Status: http.StatusNotFound, Message: fmt.Sprintf("connection spec %s is not in the 200 answer (%d items)", id, len(*answer.Items)), RequestID: resp.header.Get("x-request-id")}
}

// TestConnection asks the service whether it can reach the source of connection id with
// the connection's stored credentials (GET /connections/{id}/test). false is an answer, not
// an error: an expired session token, a wrong key or a missing bucket. A connection that does
// not exist is a *Error with Status 404.
func (c *Client) TestConnection(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, errors.New("test connection: empty id")
	}
	r := &request{method: http.MethodGet, path: "/connections/" + url.PathEscape(id) + "/test"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return false, err
	}
	var answer struct {
		Result *bool `json:"result"`
	}
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		return false, fmt.Errorf("test %s: decode answer: %w", id, err)
	}
	if answer.Result == nil {
		return false, fmt.Errorf("test %s: the %d answer holds no result", id, resp.status)
	}
	return *answer.Result, nil
}

// CheckAccess makes the cheapest call that proves the credentials, the org and the sandbox
// are accepted: one page of at most one connection of spec specID.
func (c *Client) CheckAccess(ctx context.Context, specID string) error {
	q := url.Values{}
	q.Set("limit", "1")
	q.Add("property", "connectionSpec.id=="+specID)
	r := &request{method: http.MethodGet, path: "/connections", query: q.Encode()}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	var page listPage[Connection]
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return fmt.Errorf("list connections: decode answer: %w", err)
	}
	return nil
}
