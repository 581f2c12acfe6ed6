"""The client-go of tinykube: kubeconfig, REST client, watch, informers, work queues, leader election."""
