package fbgrpc

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync/atomic"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/failover"
)

// passed carries a caller-class outcome through a pipeline as a result, so
// that no policy counts or repeats it.
type passed struct {
	v   any
	err error
}

// ClientInterceptor runs the calls of a gRPC client through a pipeline:
// one per dependency, typically one per [grpc.ClientConn]. Each attempt
// the pipeline makes is one invocation; the status it ends with is
// classified ([Classify], [WithClassifier]) into what the pipeline's
// policies see. Build one with [NewClientInterceptor]; it is safe for
// concurrent use.
type ClientInterceptor struct {
	p       *firebreak.Pipeline[any]
	classes func(codes.Code) Class
	otel    []otelgrpc.Option
}

// NewClientInterceptor returns an interceptor running calls through p.
func NewClientInterceptor(p *firebreak.Pipeline[any], opts ...ClientOption) (*ClientInterceptor, error) {
	if p == nil {
		return nil, errors.New("fbgrpc: NewClientInterceptor: pipeline is nil")
	}
	c, err := configure("NewClientInterceptor", opts, func(o ClientOption, c *config) { o.applyClient(c) })
	if err != nil {
		return nil, err
	}
	return &ClientInterceptor{p: p, classes: c.classify, otel: c.otelOptions()}, nil
}

// DialOptions returns what a client needs: otelgrpc's client stats
// handler (a span per attempt, W3C trace context, the rpc.client metrics)
// and the unary and stream interceptors.
//
//	conn, err := grpc.NewClient(target, append(ci.DialOptions(), grpc.WithTransportCredentials(creds))...)
func (ci *ClientInterceptor) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(ci.otel...)),
		grpc.WithChainUnaryInterceptor(ci.Unary),
		grpc.WithChainStreamInterceptor(ci.Stream),
	}
}

// Unary is a [grpc.UnaryClientInterceptor]. An attempt that runs alongside
// another (a hedge's) answers into a protobuf reply of its own, copied into
// the caller's reply when it wins.
func (ci *ClientInterceptor) Unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var busy atomic.Int32 // attempts running: more than one under a hedge
	v, err := ci.p.Execute(ctx, func(ctx context.Context) (any, error) {
		into := reply
		if busy.Add(1) > 1 {
			// Another attempt (a hedge's) is unmarshalling into reply:
			// this one answers into a message of its own.
			m, ok := reply.(proto.Message)
			if !ok {
				busy.Add(-1)
				return nil, backoff.Permanent(&LocalError{Code: codes.Internal, Err: errors.New("fbgrpc: concurrent attempts (a hedge) need a protobuf reply")})
			}
			into = m.ProtoReflect().New().Interface()
		}
		defer busy.Add(-1)
		var trailer metadata.MD
		// A full slice expression: never write into the spare capacity of
		// the caller's slice, which concurrent calls may share.
		err := invoker(ctx, method, req, into, cc, append(opts[:len(opts):len(opts)], grpc.Trailer(&trailer))...)
		if err == nil && into != reply {
			return ownReply{into.(proto.Message)}, nil
		}
		return ci.outcome(ctx, nil, err, trailer)
	})
	if own, ok := v.(ownReply); ok && err == nil {
		// The hedge has waited for the attempt writing reply to return.
		m := reply.(proto.Message)
		proto.Reset(m)
		proto.Merge(m, own.m)
		return nil
	}
	return clientResult(v, err)
}

// ownReply is the answer of an attempt that ran alongside another, in a
// reply message of its own.
type ownReply struct{ m proto.Message }

// Stream is a [grpc.StreamClientInterceptor]. The pipeline runs around the
// opening of the stream: a breaker refuses to open one while it is open
// and counts a stream that fails to open, a retry opens it again. What
// happens on the stream later is not the pipeline's: keep a Timeout policy
// out of a stream's pipeline, since its deadline would end the stream as
// soon as it opened.
func (ci *ClientInterceptor) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	v, err := ci.p.Execute(ctx, func(ctx context.Context) (any, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return ci.outcome(ctx, nil, err, nil)
		}
		return cs, nil
	})
	if err := clientResult(v, err); err != nil {
		return nil, err
	}
	cs, ok := v.(grpc.ClientStream)
	if !ok {
		return nil, &LocalError{Code: codes.Internal, Err: errors.New("fbgrpc: the stream pipeline returned no stream")}
	}
	return cs, nil
}

// outcome turns a call's error into what the pipeline sees.
func (ci *ClientInterceptor) outcome(ctx context.Context, v any, err error, trailer metadata.MD) (any, error) {
	if err == nil {
		return v, nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return v, err
	}
	se := &StatusError{Status: st, ctxErr: ctxErrFor(ctx, st.Code())}
	if se.ctxErr != nil {
		return v, se // the caller's context ended it: no retry, the breaker's hang rule
	}
	switch ci.classes(st.Code()) {
	case ClassOK, ClassCaller:
		return passed{v: v, err: se}, nil
	case ClassRetryable:
		if vals := trailer.Get(PushbackKey); len(vals) > 0 {
			se.Pushback, ok = parsePushback(vals[0])
			if !ok {
				se.NoRetry = true
				return v, backoff.Permanent(se)
			}
		}
		return v, se
	default:
		return v, backoff.Permanent(se)
	}
}

// clientResult returns the error a client's caller gets from a pipeline's
// outcome.
func clientResult(v any, err error) error {
	if err == nil {
		if p, ok := v.(passed); ok {
			return p.err
		}
		return nil
	}
	var pe *backoff.PermanentError
	if errors.As(err, &pe) && err == error(pe) {
		err = pe.Err
	}
	return localStatus(err)
}

// localStatus gives an error without a gRPC status the code a caller
// matches; an error with one is returned as it is.
func localStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	var te *failover.TimeoutError
	switch {
	case firebreak.RejectionOf(err) == firebreak.RejectOverload:
		return &LocalError{Code: codes.ResourceExhausted, Err: err}
	case firebreak.IsRejected(err):
		return &LocalError{Code: codes.Unavailable, Err: err}
	case errors.As(err, &te):
		return &LocalError{Code: codes.DeadlineExceeded, Err: err}
	case errors.Is(err, context.Canceled):
		return &LocalError{Code: codes.Canceled, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &LocalError{Code: codes.DeadlineExceeded, Err: err}
	}
	return err
}

// ServerInterceptor runs the calls a gRPC server serves through a pipeline
// for the service (typically an Observer and a Shed): a shed call is
// answered RESOURCE_EXHAUSTED with the shedder's wait in the
// grpc-retry-pushback-ms trailer, so that gRPC clients and a
// [ClientInterceptor] back off as asked. Other refusals of a policy (an
// open breaker, a timeout) are answered with their code ([LocalError]) and
// a message naming nothing inside the server. Statuses of the caller class
// ([Classify]) pass through the pipeline as results: no SLO burns on a
// NOT_FOUND. Build one with [NewServerInterceptor]; it is safe for
// concurrent use.
type ServerInterceptor struct {
	p       *firebreak.Pipeline[any]
	classes func(codes.Code) Class
	otel    []otelgrpc.Option
}

// NewServerInterceptor returns an interceptor running served calls
// through p.
func NewServerInterceptor(p *firebreak.Pipeline[any], opts ...ServerOption) (*ServerInterceptor, error) {
	if p == nil {
		return nil, errors.New("fbgrpc: NewServerInterceptor: pipeline is nil")
	}
	c, err := configure("NewServerInterceptor", opts, func(o ServerOption, c *config) { o.applyServer(c) })
	if err != nil {
		return nil, err
	}
	return &ServerInterceptor{p: p, classes: c.classify, otel: c.otelOptions()}, nil
}

// ServerOptions returns what a server needs: otelgrpc's server stats
// handler (a span per call, continuing the caller's trace; the rpc.server
// metrics) and the unary and stream interceptors.
//
//	srv := grpc.NewServer(si.ServerOptions()...)
func (si *ServerInterceptor) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(si.otel...)),
		grpc.ChainUnaryInterceptor(si.Unary),
		grpc.ChainStreamInterceptor(si.Stream),
	}
}

// Unary is a [grpc.UnaryServerInterceptor].
func (si *ServerInterceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	v, err := si.p.Execute(ctx, func(ctx context.Context) (any, error) {
		resp, err := handler(ctx, req)
		return si.outcome(resp, err)
	})
	return si.result(v, err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
}

// Stream is a [grpc.StreamServerInterceptor]: the pipeline runs around the
// whole stream, and the handler sees the pipeline's context.
func (si *ServerInterceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	v, err := si.p.Execute(ss.Context(), func(ctx context.Context) (any, error) {
		return si.outcome(nil, handler(srv, serverStream{ServerStream: ss, ctx: ctx}))
	})
	_, err = si.result(v, err, ss.SetTrailer) // a caller-class status comes back as passed
	return err
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s serverStream) Context() context.Context { return s.ctx }

func (si *ServerInterceptor) outcome(resp any, err error) (any, error) {
	if err == nil {
		return resp, nil
	}
	if st, ok := status.FromError(err); ok && si.classes(st.Code()) <= ClassCaller {
		return passed{v: resp, err: err}, nil
	}
	return resp, err
}

// result returns the handler's answer, or the gRPC status of a policy's
// refusal, with a pushback trailer for a shed call.
func (si *ServerInterceptor) result(v any, err error, setTrailer func(metadata.MD)) (any, error) {
	if err == nil {
		if p, ok := v.(passed); ok {
			return p.v, p.err
		}
		return v, nil
	}
	var shed *failover.ShedError
	if errors.As(err, &shed) {
		ms := int64(math.Ceil(float64(shed.After) / 1e6))
		setTrailer(metadata.Pairs(PushbackKey, strconv.FormatInt(ms, 10)))
		// The caller learns it was shed, not the server's limits.
		return nil, status.Error(codes.ResourceExhausted, "fbgrpc: server overloaded, retry later")
	}
	err = localStatus(err)
	if le, ok := err.(*LocalError); ok {
		// A policy's own refusal or timeout: the caller learns its code,
		// not the server's policies, names, settings or an operator's
		// reason, which stay in the server's spans and logs.
		return nil, status.Error(le.Code, serverMessage(le.Code))
	}
	return nil, err
}

func serverMessage(c codes.Code) string {
	switch c {
	case codes.ResourceExhausted:
		return "fbgrpc: server overloaded, retry later"
	case codes.DeadlineExceeded:
		return "fbgrpc: the server ran out of time for the call"
	case codes.Canceled:
		return "fbgrpc: call cancelled"
	}
	return "fbgrpc: service unavailable, retry later"
}
