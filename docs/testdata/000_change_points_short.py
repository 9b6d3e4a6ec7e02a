import http.client
import json

conn = http.client.HTTPSConnection("openapi.suanli.cn")

payload = json.dumps({
   "task_id": 388,
   "points": 1 # 将任务 ID 为 388 的节点数量修改为 1
})

headers = {
   'token': 'YOUR_API_TOKEN', # 替换为您的 Token
   'timestamp': '1747379023000', # 替换为当前的时间戳
   'version': '1.0.0',
   'sign_str': '', # 如果是签名模式,需要计算并填写
   'Content-Type': 'application/json'
}

conn.request("POST", "/api/deployment/task/change_points", payload, headers)
res = conn.getresponse()
data = res.read()

print(data.decode("utf-8"))
