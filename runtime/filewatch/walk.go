package filewatch

// walkWorkers is how many directories a walk reads at once. Most of a walk is system calls
// (inotify_add_watch, getdents, fstatat), which run in parallel, and more of them than cores
// hide the disk's latency when the inodes are not cached.
const walkWorkers = 4

// walk visits a directory tree from first, breadth first. For each task, prepare runs on the
// calling goroutine and says whether to visit it (it may change the task); visit runs on a
// worker goroutine and returns a result and the subdirectories to visit; merge runs on the
// calling goroutine, and stops the dispatch of new tasks when it returns false (the tasks
// already dispatched are still merged). Only prepare and merge may touch the Watcher's state.
func walk[T any](first walkTask, prepare func(*walkTask) bool, visit func(walkTask) (T, []walkTask), merge func(T) bool) {
	type done struct {
		result T
		subs   []walkTask
	}
	queue := []walkTask{first}
	tasks := make(chan walkTask)
	results := make(chan done)
	defer close(tasks)
	var held *walkTask // prepared, waiting for a worker
	started, inflight, stop := 0, 0, false
	for {
		for held == nil && !stop && len(queue) > 0 {
			t := queue[0]
			queue = queue[1:]
			if prepare(&t) {
				held = &t
			}
		}
		if held == nil && inflight == 0 {
			return
		}
		var send chan walkTask
		var next walkTask
		if held != nil {
			if inflight == started && started < walkWorkers {
				started++
				go func() {
					for t := range tasks {
						r, subs := visit(t)
						results <- done{r, subs}
					}
				}()
			}
			send, next = tasks, *held
		}
		select {
		case send <- next:
			inflight++
			held = nil
		case d := <-results:
			inflight--
			if !merge(d.result) {
				stop, held = true, nil
			}
			queue = append(queue, d.subs...)
		}
	}
}
