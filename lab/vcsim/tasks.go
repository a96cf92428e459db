package main

import (
	"fmt"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Extension tasks, which govmomi 0.24.2's simulator lacks: TaskManager.CreateTask (a task an extension reports
// on an entity, shown in Recent Tasks) and the Task methods its owner drives it with: SetTaskState,
// UpdateProgress and SetTaskDescription. As in vCenter, the task type must be declared in a registered
// extension's taskList (ExtensionTaskTypeInfo).

// labTaskManager replaces the simulator's TaskManager; the embedded one keeps recentTask up to date.
type labTaskManager struct {
	simulator.TaskManager
	lab *lab
}

func installTaskManager(l *lab) {
	stock := simulator.Map.Get(*l.content.TaskManager).(*simulator.TaskManager)
	m := &labTaskManager{lab: l}
	m.TaskManager.TaskManager = stock.TaskManager
	simulator.Map.Put(m)
	// Handlers are keyed by reference: this replaces the stock manager's, so new tasks land in our recentTask.
	simulator.Map.AddHandler(m)
}

// Lock and Unlock opt the manager out of the simulator's per-call locking: the embedded TaskManager's own mutex
// (which the simulator would take for the call) guards recentTask, and CreateTask's Put takes it again.
func (*labTaskManager) Lock()   {}
func (*labTaskManager) Unlock() {}

// labTask is a task created by CreateTask.
type labTask struct {
	simulator.Task
}

func invalidArgument(prop, msg string) *soap.Fault {
	return soapFault("A specified parameter was not correct: "+prop+" ("+msg+")", &types.InvalidArgument{InvalidProperty: prop})
}

// declaringExtension is the key of the registered extension whose taskList declares taskTypeID ("" if none).
func (m *labTaskManager) declaringExtension(ctx *simulator.Context, taskTypeID string) (key string) {
	ctx.WithLock(m.lab.ext, func() {
		for _, e := range m.lab.ext.ExtensionList {
			for _, t := range e.TaskList {
				if t.TaskID == taskTypeID {
					key = e.Key
				}
			}
		}
	})
	return
}

func (m *labTaskManager) CreateTask(ctx *simulator.Context, req *types.CreateTask) soap.HasFault {
	body := &methods.CreateTaskBody{}
	entity, ok := simulator.Map.Get(req.Obj).(mo.Entity)
	if !ok {
		body.Fault_ = soapFault(fmt.Sprintf("The object %s has already been deleted or has not been completely created", req.Obj.Value), &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	if m.declaringExtension(ctx, req.TaskTypeId) == "" {
		body.Fault_ = invalidArgument("taskTypeId", fmt.Sprintf("no registered extension declares the task type %q in its taskList", req.TaskTypeId))
		return body
	}
	var name string
	ctx.WithLock(entity, func() { name = entity.Entity().Name })

	t := &labTask{}
	t.Self = types.ManagedObjectReference{Type: "Task"}
	t.Info = types.TaskInfo{
		DescriptionId: req.TaskTypeId,
		Entity:        &req.Obj,
		EntityName:    name,
		Cancelable:    req.Cancelable,
		State:         types.TaskInfoStateQueued,
		QueueTime:     time.Now(),
		Reason:        &types.TaskReasonUser{UserName: req.InitiatedBy},
		ParentTaskKey: req.ParentTaskKey,
		ActivationId:  req.ActivationId,
	}
	// Put names the task (task-N) and, through our handler, adds it to recentTask.
	simulator.Map.Put(t)
	t.Info.Key = t.Self.Value
	t.Info.Task = t.Self
	body.Res = &types.CreateTaskResponse{Returnval: t.Info}
	return body
}

func (t *labTask) SetTaskState(ctx *simulator.Context, req *types.SetTaskState) soap.HasFault {
	body := &methods.SetTaskStateBody{}
	now := time.Now()
	changes := []types.PropertyChange{{Name: "info.state", Val: req.State}}
	switch req.State {
	case types.TaskInfoStateRunning:
		if t.Info.StartTime == nil {
			changes = append(changes, types.PropertyChange{Name: "info.startTime", Val: now})
		}
	case types.TaskInfoStateSuccess, types.TaskInfoStateError:
		if t.Info.StartTime == nil {
			changes = append(changes, types.PropertyChange{Name: "info.startTime", Val: now})
		}
		changes = append(changes, types.PropertyChange{Name: "info.completeTime", Val: now})
		if req.State == types.TaskInfoStateSuccess {
			changes = append(changes, types.PropertyChange{Name: "info.progress", Val: int32(100)})
		}
		if req.Result != nil {
			changes = append(changes, types.PropertyChange{Name: "info.result", Val: req.Result})
		}
		if req.Fault != nil {
			changes = append(changes, types.PropertyChange{Name: "info.error", Val: *req.Fault})
		}
	}
	simulator.Map.Update(t, changes)
	body.Res = &types.SetTaskStateResponse{}
	return body
}

func (t *labTask) UpdateProgress(ctx *simulator.Context, req *types.UpdateProgress) soap.HasFault {
	body := &methods.UpdateProgressBody{}
	if t.Info.State != types.TaskInfoStateRunning {
		body.Fault_ = soapFault("The operation is not allowed in the current state.", &types.InvalidState{})
		return body
	}
	if req.PercentDone < 0 || req.PercentDone > 100 {
		body.Fault_ = soapFault("percentDone must be 0 to 100", &types.OutOfBounds{ArgumentName: "percentDone"})
		return body
	}
	simulator.Map.Update(t, []types.PropertyChange{{Name: "info.progress", Val: req.PercentDone}})
	body.Res = &types.UpdateProgressResponse{}
	return body
}

func (t *labTask) SetTaskDescription(ctx *simulator.Context, req *types.SetTaskDescription) soap.HasFault {
	simulator.Map.Update(t, []types.PropertyChange{{Name: "info.description", Val: req.Description}})
	return &methods.SetTaskDescriptionBody{Res: &types.SetTaskDescriptionResponse{}}
}
