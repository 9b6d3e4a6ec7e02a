# Document 003's Python examples, in the document's order, as written (the
# document's copy lost their indentation; it is restored here). The test
# replaces only the host and port (localhost:9000) and the placeholder job
# ids (job_123456, job_123457, job_123458) with jobs of the running cluster.
# Left out: the asyncio/aiohttp example (aiohttp is not installed here).

# --- 使用示例 1. 查询任务状态
import requests
import time

def check_job_status(job_id, api_key):
    """查询任务状态"""
    response = requests.get(
        f"http://localhost:9000/job?id={job_id}",
        headers={"X-API-KEY": api_key}
    )

    if response.status_code == 200:
        job_data = response.json()["data"][0]
        return job_data["status"], job_data.get("result")
    else:
        print(f"查询失败: {response.status_code}")
        return None, None

# 使用示例
job_id = "job_123456"
api_key = "your_key"

while True:
    status, result = check_job_status(job_id, api_key)

    if status == "finished":
        print(f"任务完成: {result['retval']}")
        break
    elif status == "failed":
        print(f"任务失败: {result['error']}")
        break
    elif status in ["queued", "started"]:
        print(f"任务状态: {status}")
        time.sleep(2)
    else:
        print(f"未知状态: {status}")
        break

# --- 2. 批量查询任务
# 查询所有已完成的任务
response = requests.get(
    "http://localhost:9000/job?status=finished",
    headers={"X-API-KEY": "your_key"}
)

if response.status_code == 200:
    jobs = response.json()["data"]
    for job in jobs:
        print(f"任务ID: {job['id']}, 执行时间: {job['duration']}秒")

# --- 3. 取消任务
# 取消指定任务
response = requests.delete(
    "http://localhost:9000/job?id=job_123456",
    headers={"X-API-KEY": "your_key"}
)

if response.status_code == 200:
    result = response.json()["data"]
    print(f"取消任务数量: {result['cancelled_count']}")

# --- 4. 监控Worker状态
# 查询Worker状态
response = requests.get(
    "http://localhost:9000/worker",
    headers={"X-API-KEY": "your_key"}
)

if response.status_code == 200:
    workers = response.json()["data"]
    for worker in workers:
        print(f"Worker: {worker['name']}, 状态: {worker['status']}, "
              f"完成任务: {worker['successful_job_count']}, 失败任务: {worker['failed_job_count']}")

# --- 5. 任务结果处理
def process_job_result(job_id, api_key):
    """处理任务结果"""
    response = requests.get(
        f"http://localhost:9000/job?id={job_id}",
        headers={"X-API-KEY": api_key}
    )

    if response.status_code == 200:
        job_data = response.json()["data"][0]

        if job_data["status"] == "finished":
            result = job_data["result"]
            if result["type"] == "success":
                return result["retval"]
            else:
                return f"执行失败: {result['error']}"
        else:
            return f"任务状态: {job_data['status']}"
    else:
        return "查询失败"

# 使用示例
result = process_job_result("job_123456", "your_key")
print(result)

# --- 最佳实践 1. 任务状态轮询
def wait_for_job_completion(job_id, api_key, timeout=300, interval=2):
    """等待任务完成"""
    import time
    start_time = time.time()

    while time.time() - start_time < timeout:
        status, result = check_job_status(job_id, api_key)

        if status == "finished":
            return result["retval"]
        elif status == "failed":
            raise Exception(f"任务执行失败: {result['error']}")
        elif status in ["queued", "started"]:
            time.sleep(interval)
        else:
            raise Exception(f"未知任务状态: {status}")

    raise Exception("任务超时")

# 使用示例
try:
    result = wait_for_job_completion("job_123456", "your_key")
    print(f"任务结果: {result}")
except Exception as e:
    print(f"任务异常: {e}")

# --- 2. 批量任务管理
def monitor_batch_jobs(job_ids, api_key):
    """监控批量任务"""
    import time
    completed_jobs = []
    failed_jobs = []

    while len(completed_jobs) + len(failed_jobs) < len(job_ids):
        for job_id in job_ids:
            if job_id not in completed_jobs and job_id not in failed_jobs:
                status, result = check_job_status(job_id, api_key)

                if status == "finished":
                    completed_jobs.append(job_id)
                    print(f"任务 {job_id} 完成")
                elif status == "failed":
                    failed_jobs.append(job_id)
                    print(f"任务 {job_id} 失败: {result['error']}")

        time.sleep(2)

    return completed_jobs, failed_jobs

# --- 3. Worker监控
def monitor_workers(api_key):
    """监控Worker状态"""
    response = requests.get(
        "http://localhost:9000/worker",
        headers={"X-API-KEY": api_key}
    )

    if response.status_code == 200:
        workers = response.json()["data"]

        busy_workers = [w for w in workers if w["status"] == "busy"]
        idle_workers = [w for w in workers if w["status"] == "idle"]

        print(f"忙碌Worker: {len(busy_workers)}")
        print(f"空闲Worker: {len(idle_workers)}")

        for worker in workers:
            print(f"Worker {worker['name']}: {worker['successful_job_count']} 完成, "
                  f"{worker['failed_job_count']} 失败")

# --- 性能优化 1. 批量查询
# 批量查询多个任务
job_ids = ["job_123456", "job_123457", "job_123458"]
for job_id in job_ids:
    status, result = check_job_status(job_id, api_key)
    # 处理结果

# --- 2. 条件过滤
# 只查询特定状态的任务
response = requests.get(
    "http://localhost:9000/job?status=finished",
    headers={"X-API-KEY": "your_key"}
)

# --- Worker管理示例 1. 查询Worker状态
import requests

def get_all_workers():
    url = "http://localhost:9000/worker"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.get(url, headers=headers)
    if response.status_code == 200:
        return response.json()['data']
    return []

def get_workers_by_queue(queue):
    url = f"http://localhost:9000/worker?queue={queue}"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.get(url, headers=headers)
    if response.status_code == 200:
        return response.json()['data']
    return []

def get_workers_by_host(host):
    url = f"http://localhost:9000/worker?host={host}"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.get(url, headers=headers)
    if response.status_code == 200:
        return response.json()['data']
    return []

# 使用示例
workers = get_all_workers()
fifo_workers = get_workers_by_queue('FifoQ')

# --- 2. 终止Worker
def terminate_worker(worker_name):
    url = f"http://localhost:9000/worker?name={worker_name}"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.delete(url, headers=headers)
    return response.status_code == 200

def terminate_workers_by_queue(queue):
    url = f"http://localhost:9000/worker?queue={queue}"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.delete(url, headers=headers)
    return response.status_code == 200

def terminate_workers_by_host(host):
    url = f"http://localhost:9000/worker?host={host}"
    headers = {"X-API-Key": "your-api-key-here"}
    response = requests.delete(url, headers=headers)
    return response.status_code == 200

# 使用示例
if workers:
    worker_name = workers[0]['name']
    terminate_worker(worker_name)

# --- 系统健康检查: Python 示例
import requests
import json

def check_system_health():
    url = "http://localhost:9000/health"
    headers = {"X-API-Key": "your-api-key-here"}

    try:
        response = requests.get(url, headers=headers, timeout=10)
        if response.status_code == 200:
            data = response.json()
            return data['data']
        else:
            return {"status": "error", "message": f"HTTP {response.status_code}"}
    except Exception as e:
        return {"status": "error", "message": str(e)}

def monitor_health():
    """持续监控系统健康状态"""
    import time
    while True:
        health = check_system_health()
        print(f"Health Status: {health}")
        print("-" * 50)
        time.sleep(60)  # 每分钟检查一次

# 使用示例
if __name__ == "__main__":
    health_status = check_system_health()
    print(json.dumps(health_status, indent=2))

# --- The test's own calls of the functions the document defines but does not call.
print("BATCH", monitor_batch_jobs(["job_123456", "job_123457"], api_key))
monitor_workers(api_key)
print("BY HOST", len(get_workers_by_host("10.9.9.9")), "BY QUEUE", len(fifo_workers))
print("TERMINATED", worker_name)
