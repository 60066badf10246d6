package api

import (
	"context"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/service"
)

// Users is what the handler asks of the user service (service.Users).
type Users interface {
	Register(ctx context.Context, username, password, email string) (*domain.User, error)
	Login(ctx context.Context, username, password string) (*service.Login, error)
	Authenticate(ctx context.Context, token string) (*domain.User, error)
	Logout(ctx context.Context, id string) error
	Update(ctx context.Context, id string, up service.UserUpdate) (*domain.User, error)
	Delete(ctx context.Context, id string) error
}

// Functions is what the handler asks of the function service
// (service.Functions).
type Functions interface {
	Create(ctx context.Context, owner string, p service.FunctionPatch) (*domain.Function, error)
	List(ctx context.Context, owner string) ([]*domain.Function, error)
	Get(ctx context.Context, owner, id string) (*domain.Function, error)
	Update(ctx context.Context, owner, id string, p service.FunctionPatch) (*domain.Function, error)
	Delete(ctx context.Context, owner, id string) error
}

// Executions is what the handler asks of the execution service
// (service.Executions).
type Executions interface {
	EnqueueOnce(ctx context.Context, owner, functionID string, input []byte, key, redriveOf string) (*domain.Execution, bool, error)
	Wait(ctx context.Context, owner, id string, max time.Duration) (*domain.Execution, bool, error)
	List(ctx context.Context, owner string, f domain.ExecutionFilter) (domain.ExecutionPage, error)
	Get(ctx context.Context, owner, id string) (*domain.Execution, error)
	Logs(ctx context.Context, owner, id string) (logs string, truncated bool, err error)
	Cancel(ctx context.Context, owner, id string) (*domain.Execution, error)
	ListDeadLetters(ctx context.Context, owner string) ([]domain.DeadLetter, error)
	Redrive(ctx context.Context, owner, id string) (*domain.Execution, error)
	DiscardDeadLetter(ctx context.Context, owner, id string) error
}

var (
	_ Users      = (*service.Users)(nil)
	_ Functions  = (*service.Functions)(nil)
	_ Executions = (*service.Executions)(nil)
)
